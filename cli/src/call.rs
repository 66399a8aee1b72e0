//! `weft call`: invoke an exported function of a running component, with
//! arguments and results in WAVE (or results in JSON).

use crate::lattice::{LatticeArgs, Output};
use clap::Args;
use weft_lattice_client::CallRequest;

/// Examples shown by `weft call --help`.
pub const EXAMPLES: &str = r#"Examples:
  weft call greeter greet '"Ada"'                       # -> {text: "Hello, Ada!", count: 3, tags: ["greeter"]}
  weft call greeter weft:platform/greeter#add 2 40      # -> ok(42)
  weft call greeter describe 'circle(1.5)' 'some("big")'
  weft call greeter greet '"Ada"' -o json               # results as JSON

Arguments and results are WAVE, the WebAssembly Value Encoding: strings in
double quotes, records {a: 1, b: "x"}, lists [1, 2], options some(x)/none,
results ok(x)/err(e), variants case(payload), enums and flags by name.
`weft inspect FILE|oci://REF` lists a component's functions and their types."#;

/// `weft call` arguments.
#[derive(Debug, Args)]
pub struct CallArgs {
    /// The running component's id.
    id: String,
    /// `function`, `interface#function` or `ns:pkg/interface#function`.
    function: String,
    /// The arguments, one WAVE value each (after `--` if one starts with `-`
    /// and is not a number).
    #[arg(allow_negative_numbers = true)]
    args: Vec<String>,
    #[command(flatten)]
    lattice: LatticeArgs,
}

/// Runs `weft call`.
pub async fn call(args: CallArgs) -> anyhow::Result<()> {
    let client = args.lattice.client().await?;
    let json = args.lattice.output == Output::Json;
    let results = client
        .call(&CallRequest {
            component: args.id.clone(),
            function: args.function.clone(),
            args: args.args,
            json,
            // --timeout (default 5 s) bounds the call as every request.
            timeout: args.lattice.timeout,
        })
        .await?;
    if json {
        let values: Vec<serde_json::Value> = results
            .iter()
            .map(|r| {
                serde_json::from_str(r).unwrap_or_else(|_| serde_json::Value::String(r.clone()))
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({
                "success": true, "component": args.id, "function": args.function, "results": values,
            })
        );
    } else {
        for result in results {
            println!("{result}");
        }
    }
    Ok(())
}
