//! The `hetl` command-line tool.

fn main() -> std::process::ExitCode {
    hetl::cli::main()
}
