//! `codextrator`: the legacy name of `codenator`, the same program (the
//! reference shipped both names). Usage texts say `codextrator`.

#[path = "../main.rs"]
mod app;

fn main() -> std::process::ExitCode {
    app::main()
}
