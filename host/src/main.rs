//! The `paydesk` binary: parse the command line and run it; errors print as one line.

fn main() -> std::process::ExitCode {
    paydesk_host::cli::main()
}
