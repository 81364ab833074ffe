//! Nothing here: this package exists for its integration tests (`tests/*.rs` beside this
//! folder's Cargo.toml, in `tests/tests/`) and the hostile guests in `guests/`.
