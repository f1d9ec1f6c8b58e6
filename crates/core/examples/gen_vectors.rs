//! Prints the cookie test vectors, `tests/vectors/cookies.json`:
//!
//! ```text
//! cargo run --example gen_vectors > tests/vectors/cookies.json
//! ```
//!
//! The generator itself lives in `tests/vectors/generate.rs`, where the
//! vector tests also use it to check that the committed file is current.

#[path = "../tests/vectors/generate.rs"]
mod generate;

fn main() {
    print!("{}", generate::render());
}
