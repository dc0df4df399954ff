//! Plays a scenario file through the real inbox on the in-memory store with
//! a simulated clock, printing the domain events as JSON lines and the final
//! state.
//!
//! ```text
//! cargo run -q --example scenario -- examples/scenarios/round_robin.yaml
//! ```
//!
//! Exits 0 when every step ran and every expectation held; 1 when a step
//! failed or an expectation did not hold; 2 when the file is not a valid
//! scenario (the message names the line or the field). The format is in
//! `docs/scenarios.md`.

use std::io::Write;
use std::process::ExitCode;

use inbox_examples::scenario::{Scenario, ScenarioError};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: cargo run --example scenario -- FILE");
        return ExitCode::from(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::from(2);
        }
    };
    let scenario = match Scenario::parse(&text) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::from(2);
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = scenario.run(&mut out).await;
    let _ = out.flush();
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(e @ ScenarioError::Invalid(_)) => {
            eprintln!("{path}: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("{path}: {e}");
            ExitCode::FAILURE
        }
    }
}
