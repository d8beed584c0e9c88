//! `codenator`: see the `codenator_cli` library.

fn main() -> std::process::ExitCode {
    codenator_cli::main()
}
