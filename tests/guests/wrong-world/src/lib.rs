//! A valid component that exports some other world: isomail must refuse it as a renderer.

wit_bindgen::generate!({
    inline: "package test:other; world other { export render: func(name: string) -> string; }",
});

struct Other;

impl Guest for Other {
    fn render(name: String) -> String {
        name
    }
}

export!(Other);
