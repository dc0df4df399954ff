//! Decodes one WhatsApp webhook body and prints one JSON object per line for
//! each item in it.
//!
//! ```text
//! cargo run -q --example wa-decode -- [--app-secret SECRET --signature HEADER] [FILE]
//! ```
//!
//! Reads FILE, or standard input. Exits 0 for any well-formed webhook body;
//! exits 2 with a one-line reason on standard error for invalid JSON, a body
//! that is not a WhatsApp webhook, or (with `--app-secret`) a missing or
//! wrong signature.

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    match inbox_examples::wa_decode::run(std::env::args().skip(1), &mut std::io::stdin()) {
        Ok(lines) => {
            let mut out = std::io::stdout().lock();
            for l in lines {
                // A closed pipe (`| head`) is not an error worth a panic.
                if writeln!(out, "{l}").is_err() {
                    break;
                }
            }
            let _ = out.flush();
            ExitCode::SUCCESS
        }
        Err(reason) => {
            eprintln!("{}", reason.replace('\n', " "));
            ExitCode::from(2)
        }
    }
}
