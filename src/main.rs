//! The `letsflow` command line.

mod cli;

use clap::Parser;

// The engine allocates many small JSON values; mimalloc handles that markedly faster than
// the system allocator (see the `core` benchmark).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::process::ExitCode;

fn main() -> ExitCode {
    cli::Cli::parse().run()
}
