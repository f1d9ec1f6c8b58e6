//! Prints the cookie test vectors, `crates/core/tests/vectors/cookies.json`:
//!
//! ```text
//! cargo run -p session-gate-core --example gen_vectors > crates/core/tests/vectors/cookies.json
//! ```
//!
//! The generator itself lives in `crates/core/tests/vectors/generate.rs`, where the
//! vector tests also use it to check that the committed file is current.

#[path = "../tests/vectors/generate.rs"]
mod generate;

fn main() {
    print!("{}", generate::render());
}
