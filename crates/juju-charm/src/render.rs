//! `<charm> render`, the offline dry run, for any [`Charm`]: the charm builds its `Inputs`
//! from the files its arguments name ([`read_file`], [`read_json`]: bounded, untrusted),
//! [`Charm::plan`] decides exactly as in a hook, and what the plan writes is printed as one
//! JSON object. On invalid input nothing is printed on stdout; the reason goes to stderr and
//! the exit is non-zero.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::charm::Charm;

/// Largest input file read (a StatefulSet, a config or a databag is far smaller).
pub const MAX_INPUT_BYTES: u64 = 4 * 1024 * 1024;

/// An input file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// It could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// It is larger than [`MAX_INPUT_BYTES`].
    #[error("{path} is larger than {MAX_INPUT_BYTES} bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// `--app` or `--model` is not a valid name.
    #[error("invalid --app or --model")]
    Names(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// It is not the JSON it should be.
    #[error("{path} is not {what} in JSON")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What it should hold, e.g. "a StatefulSet".
        what: &'static str,
        /// Why it does not.
        #[source]
        source: serde_json::Error,
    },
}

impl InputError {
    /// [`Self::Names`] from the charm's name validation error.
    pub fn names(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Names(Box::new(e))
    }
}

/// Declares a charm's `render` subcommand (`RenderArgs`, argh): the options every charm's
/// dry run takes, `--app`, `--model` and `--statefulset` (the StatefulSet's JSON file), then
/// the charm's own fields. The struct's doc comment is the subcommand's help.
///
/// ```ignore
/// juju_charm::render_args! {
///     /// Print what the charm would write.
///     pub struct RenderArgs {
///         /// render as if Cilium's CRD existed
///         #[argh(switch)]
///         pub cilium: bool,
///     }
/// }
/// ```
#[macro_export]
macro_rules! render_args {
    (
        $(#[$meta:meta])*
        pub struct $name:ident { $($fields:tt)* }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, argh::FromArgs)]
        #[argh(subcommand, name = "render")]
        pub struct $name {
            /// the application name (also the StatefulSet's)
            #[argh(option)]
            pub app: String,
            /// the model name (the namespace)
            #[argh(option)]
            pub model: String,
            /// the application's StatefulSet as the API server holds it, as JSON
            /// (`kubectl get statefulset NAME -o json`)
            #[argh(option)]
            pub statefulset: std::path::PathBuf,
            // Passed on as tokens: argh's derive reads the field types (`Option<_>`, `bool`),
            // which a `ty` fragment would hide from it.
            $($fields)*
        }
    };
}

/// The file's text, refused beyond [`MAX_INPUT_BYTES`]. The read itself stops there: a file
/// that grows, or a device such as `/dev/zero`, cannot make it read more.
pub fn read_file(path: &Path) -> Result<String, InputError> {
    use std::io::Read as _;
    let read = |source| InputError::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read)?;
    let mut bytes = Vec::new();
    file.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(InputError::TooLarge {
            path: path.to_owned(),
        });
    }
    String::from_utf8(bytes).map_err(|e| {
        read(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            e.utf8_error(),
        ))
    })
}

/// The file decoded from JSON (never YAML: docs/adr/0024) as `what`.
pub fn read_json<T: DeserializeOwned>(path: &Path, what: &'static str) -> Result<T, InputError> {
    let text = read_file(path)?;
    crate::k8s::parse_manifest(&text).map_err(|source| InputError::Parse {
        path: path.to_owned(),
        what,
        source,
    })
}

/// Why `render` printed nothing.
#[derive(Debug, thiserror::Error)]
pub enum RenderError<E: std::error::Error + 'static> {
    /// The charm refused the input.
    #[error(transparent)]
    Charm(E),
    /// The output could not be encoded.
    #[error("cannot encode the output")]
    Encode(#[source] serde_json::Error),
    /// Writing to stdout failed.
    #[error("cannot write to stdout")]
    Stdout(#[source] std::io::Error),
}

/// What `render` prints for charm `C`: the inputs from the files, the plan, its output.
pub fn output<C: Charm>(args: &C::Render) -> Result<Value, C::RenderError> {
    let inputs = C::render_inputs(args)?;
    let plan = C::plan(&inputs);
    C::render_output(&inputs, &plan)
}

/// `render` for charm `C`: [`output`], printed whole (an error prints nothing).
pub fn run<C: Charm>(args: &C::Render) -> Result<(), RenderError<C::RenderError>> {
    let output = output::<C>(args).map_err(RenderError::Charm)?;
    let mut text = serde_json::to_string_pretty(&output).map_err(RenderError::Encode)?;
    text.push('\n');
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(RenderError::Stdout)
}
