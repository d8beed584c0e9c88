//! `codextrator`: the legacy name of `codenator`, the same program (the
//! reference shipped both names). Usage texts say `codextrator`.

fn main() -> std::process::ExitCode {
    codenator_cli::main()
}
