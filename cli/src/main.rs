//! `weft`: run WebAssembly components, alone or on a lattice.
//!
//! This binary is the composition root: the only crate that names concrete
//! providers and hands them to the host.

mod component;
mod ctl;
mod host;
mod lattice;
mod msg;
mod oci;
mod run;
mod units;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Run WebAssembly components (WASI 0.2) with keyvalue, HTTP and config wired in.
#[derive(Debug, Parser)]
#[command(name = "weft", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve one component over HTTP in this process (a dev host, no lattice).
    #[command(after_help = run::EXAMPLES)]
    Run(run::RunArgs),
    /// Join a NATS lattice as a host that clients (weft, wash) can drive.
    #[command(after_help = host::EXAMPLES)]
    Host(host::HostArgs),
    /// Start a component on the lattice (placed by auction).
    #[command(after_help = component::EXAMPLES)]
    Start(component::StartArgs),
    /// Stop a component on the lattice.
    #[command(after_help = component::EXAMPLES)]
    Stop(component::StopArgs),
    /// Change how many invocations of a component may run at once.
    #[command(after_help = component::EXAMPLES)]
    Scale(component::ScaleArgs),
    /// Switch a running component to another image, with no failed requests.
    #[command(after_help = component::EXAMPLES)]
    Update(component::UpdateArgs),
    /// Show hosts, inventories or links of a lattice.
    #[command(after_help = ctl::EXAMPLES)]
    Get(ctl::GetArgs),
    /// Store, show or delete named configs in the lattice.
    #[command(after_help = ctl::EXAMPLES)]
    Config(ctl::ConfigArgs),
    /// Bind a component's imports to a provider or component, or unbind them.
    #[command(after_help = ctl::EXAMPLES)]
    Link(ctl::LinkArgs),
    /// Set or remove a host's labels.
    #[command(after_help = ctl::EXAMPLES)]
    Label(ctl::LabelArgs),
    /// Push a component to an OCI registry.
    #[command(after_help = oci::EXAMPLES)]
    Push(oci::PushArgs),
    /// Pull a component from an OCI registry into the local store.
    #[command(after_help = oci::EXAMPLES)]
    Pull(oci::PullArgs),
    /// Send a message on the lattice's NATS (to messaging components).
    #[command(after_help = msg::EXAMPLES)]
    Msg(msg::MsgArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WEFT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,async_nats=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => run::run(args).await,
            Command::Host(args) => host::host(args).await,
            Command::Start(args) => component::start(args).await,
            Command::Stop(args) => component::stop(args).await,
            Command::Scale(args) => component::scale(args).await,
            Command::Update(args) => component::update(args).await,
            Command::Get(args) => ctl::get(args).await,
            Command::Config(args) => ctl::config(args).await,
            Command::Link(args) => ctl::link(args).await,
            Command::Label(args) => ctl::label(args).await,
            Command::Msg(args) => msg::msg(args).await,
            Command::Push(args) => oci::push(args).await,
            Command::Pull(args) => oci::pull(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
