//! The renderer contract as the host speaks it: the generated bindings of
//! `isomail:renderer@0.2.0` and of the first published `@0.1.0`, the [`Contract`] a component
//! implements, and the one `render` call that carries either version's types over to the other's.

use wasmtime::Store;

use super::store::MessageCtx;

/// The renderer contract, `isomail:renderer@0.2.0`: what the host speaks.
mod current {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "renderer",
        additional_derives: [PartialEq, Eq],
    });
}

/// The first published contract, `isomail:renderer@0.1.0` (no `templates.format`). Renderers
/// built against it keep working: they are given the same templates without the format, and
/// only campaigns whose format is `plain`, which is all 0.1.0 knew.
mod v010 {
    wasmtime::component::bindgen!({
        path: "../wit/v0.1.0",
        world: "renderer",
    });
}

pub use current::isomail::renderer::types::{Content, Format, Recipient, RenderError, Templates};
use v010::isomail::renderer::types as old;

/// The version of the renderer contract a component implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contract {
    /// `isomail:renderer@0.1.0`: plain templates only.
    V0_1,
    /// `isomail:renderer@0.2.0`: templates carry their [`Format`].
    V0_2,
}

impl std::fmt::Display for Contract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Contract::V0_1 => "isomail:renderer@0.1.0",
            Contract::V0_2 => "isomail:renderer@0.2.0",
        })
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Format::Plain => "plain",
            Format::Markdown => "Markdown",
            Format::Mjml => "MJML",
        })
    }
}

/// A linked renderer of either contract version, ready to instantiate.
pub(super) enum Pre {
    Current(current::RendererPre<MessageCtx>),
    V010(v010::RendererPre<MessageCtx>),
}

/// One message's instance, of either contract version.
pub(super) enum Instance {
    Current(current::Renderer),
    V010(v010::Renderer),
}

impl Pre {
    /// The linked component as a renderer of the current contract, else of 0.1.0; the error is
    /// why it is not one of the current contract.
    pub(super) fn new(
        instance_pre: wasmtime::component::InstancePre<MessageCtx>,
    ) -> wasmtime::Result<Pre> {
        match current::RendererPre::new(instance_pre.clone()) {
            Ok(pre) => Ok(Pre::Current(pre)),
            Err(why) => match v010::RendererPre::new(instance_pre) {
                Ok(pre) => Ok(Pre::V010(pre)),
                Err(_) => Err(why),
            },
        }
    }

    pub(super) fn contract(&self) -> Contract {
        match self {
            Pre::Current(_) => Contract::V0_2,
            Pre::V010(_) => Contract::V0_1,
        }
    }

    pub(super) fn instantiate(&self, store: &mut Store<MessageCtx>) -> wasmtime::Result<Instance> {
        Ok(match self {
            Pre::Current(pre) => Instance::Current(pre.instantiate(store)?),
            Pre::V010(pre) => Instance::V010(pre.instantiate(store)?),
        })
    }
}

impl Instance {
    /// One `render` call. A 0.1.0 renderer gets the templates without their format (the caller
    /// has made sure it is `plain`) and its answer is carried over field by field.
    pub(super) fn render(
        &self,
        store: &mut Store<MessageCtx>,
        templates: &Templates,
        recipient: &Recipient,
    ) -> wasmtime::Result<Result<Content, RenderError>> {
        match self {
            Instance::Current(renderer) => renderer.call_render(store, templates, recipient),
            Instance::V010(renderer) => {
                let templates = old::Templates {
                    subject: templates.subject.clone(),
                    text: templates.text.clone(),
                    html: templates.html.clone(),
                };
                let recipient = old::Recipient {
                    email: recipient.email.clone(),
                    fields: recipient.fields.clone(),
                };
                Ok(match renderer.call_render(store, &templates, &recipient)? {
                    Ok(old::Content {
                        subject,
                        text,
                        html,
                    }) => Ok(Content {
                        subject,
                        text,
                        html,
                    }),
                    Err(old::RenderError::Syntax(m)) => Err(RenderError::Syntax(m)),
                    Err(old::RenderError::Undefined(m)) => Err(RenderError::Undefined(m)),
                    Err(old::RenderError::Other(m)) => Err(RenderError::Other(m)),
                })
            }
        }
    }
}
