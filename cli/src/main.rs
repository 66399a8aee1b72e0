//! `weft`: run WebAssembly components, alone or on a lattice.
//!
//! This binary is the composition root: the only crate that names concrete
//! providers and hands them to the host.

mod app;
mod call;
mod component;
mod context;
mod ctl;
mod host;
mod inspect;
mod lattice;
mod metrics;
mod msg;
mod new;
mod oci;
mod run;
mod serve;
mod spy;
mod telemetry;
mod ui;
mod units;
mod up;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
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
    /// Start a lattice on this machine: NATS (if none runs) and a host.
    #[command(after_help = up::EXAMPLES)]
    Up(up::UpArgs),
    /// Stop what `weft up` started.
    #[command(after_help = up::EXAMPLES)]
    Down(up::DownArgs),
    /// Serve one component over HTTP in this process (a dev host, no lattice).
    #[command(after_help = run::EXAMPLES)]
    Run(run::RunArgs),
    /// Join a NATS lattice as a host that clients (weft, wash) can drive.
    #[command(after_help = host::EXAMPLES)]
    Host(host::HostArgs),
    /// Deploy and manage apps: manifests (wadm's format) the lattice keeps true.
    #[command(after_help = app::EXAMPLES)]
    App(app::AppArgs),
    /// Serve the web dashboard: see and steer the lattice live.
    #[command(after_help = ui::EXAMPLES)]
    Ui(ui::UiArgs),
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
    /// Call an exported function of a running component (arguments in WAVE).
    #[command(after_help = call::EXAMPLES)]
    Call(call::CallArgs),
    /// Show a component's imports and exports (and, with --id, what is not linked).
    #[command(after_help = inspect::EXAMPLES)]
    Inspect(inspect::InspectArgs),
    /// Watch the lattice's events live (and a component's messages and calls).
    #[command(after_help = spy::EXAMPLES)]
    Spy(spy::SpyArgs),
    /// Create a component crate from a template.
    #[command(after_help = new::EXAMPLES)]
    New(new::NewArgs),
    /// Build the component crate here for wasm32-wasip2 and print the artifact's path.
    #[command(after_help = new::EXAMPLES)]
    Build(new::BuildArgs),
    /// Print a shell completion script.
    #[command(after_help = "Examples:
  weft completions bash > ~/.local/share/bash-completion/completions/weft
  weft completions zsh > ~/.zfunc/_weft
  weft completions fish > ~/.config/fish/completions/weft.fish")]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
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
    let command = context::apply(Cli::command(), &context::load());
    let cli = match Cli::from_arg_matches(&command.get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let otlp = match &cli.command {
        Command::Host(args) => args.otlp.as_deref(),
        _ => None,
    };
    let exporter = match telemetry::init(otlp) {
        Ok(exporter) => exporter,
        Err(e) => {
            eprintln!("error: --otlp: {e}");
            return ExitCode::FAILURE;
        }
    };
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
        if let Some(exporter) = exporter {
            tokio::spawn(exporter.run());
        }
        match cli.command {
            Command::Up(args) => up::up(args).await,
            Command::Down(args) => up::down(args).await,
            Command::Run(args) => run::run(args).await,
            Command::Host(args) => host::host(args).await,
            Command::App(args) => app::app(args).await,
            Command::Ui(args) => ui::ui(args).await,
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
            Command::Call(args) => call::call(args).await,
            Command::Inspect(args) => inspect::inspect(args).await,
            Command::Spy(args) => spy::spy(args).await,
            Command::New(args) => new::new(args),
            Command::Completions { shell } => {
                let mut script = Vec::new();
                clap_complete::generate(shell, &mut Cli::command(), "weft", &mut script);
                use std::io::Write as _;
                // A closed pipe (`| head`) is not an error worth a message.
                let _ = std::io::stdout().write_all(&script);
                Ok(())
            }
            Command::Build(args) => new::build(args),
            Command::Pull(args) => oci::pull(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<Usage>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// A usage error found after the arguments were parsed (flags that do not
/// fit together): the command exits 2, as for a bad flag.
#[derive(Debug)]
pub struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}
