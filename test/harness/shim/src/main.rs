//! containerd-shim-wasmtime-v1: a containerd shim that runs WebAssembly with wasmtime.
//!
//! Built on runwasi's `containerd-shim-wasm` library (crates.io); modelled on runwasi's own
//! wasmtime shim (containerd/runwasi crates/containerd-shim-wasmtime 0.6), which is not published
//! on crates.io. Runs:
//!   - WASI preview1 core modules (calls the entrypoint's `#func`, default `_start`);
//!   - WASI preview2 `wasi:cli/command` components.
//! Not supported (left out to keep the build short): wasi:http components, precompilation.
//!
//! The module comes from the container's rootfs (the image's Entrypoint, e.g. `/hello.wasm`) or
//! from an OCI Wasm layer (`application/wasm`, runwasi's artifact style).
use anyhow::{Context, Result};
use containerd_shim_wasm::sandbox::Sandbox;
use containerd_shim_wasm::sandbox::context::{Entrypoint, RuntimeContext, WasmBinaryType};
use containerd_shim_wasm::shim::{Cli, Shim, Version, version};
use wasmtime::component::{Component, ResourceTable};
use wasmtime::{Engine, Linker, Module, Store};
use wasmtime_wasi::p2::bindings::Command;
use wasmtime_wasi::preview1::{self, WasiP1Ctx};
use wasmtime_wasi::{DirPerms, FilePerms, I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

struct WasmtimeShim;

struct WasmtimeSandbox {
    engine: Engine,
}

impl Default for WasmtimeSandbox {
    fn default() -> Self {
        let mut config = wasmtime::Config::new();
        config.async_support(true);
        config.wasm_component_model(true);
        Self { engine: Engine::new(&config).expect("wasmtime engine") }
    }
}

impl Shim for WasmtimeShim {
    fn name() -> &'static str {
        "wasmtime"
    }

    fn version() -> Version {
        version!()
    }

    type Sandbox = WasmtimeSandbox;
}

impl Sandbox for WasmtimeSandbox {
    /// runwasi's default check reads the entrypoint's first bytes; `/` (the Spin convention) is a
    /// directory, so without this the container would go to the Linux executor and fail.
    async fn can_handle(&self, ctx: &impl RuntimeContext) -> Result<()> {
        let Entrypoint { source, arg0, .. } = ctx.entrypoint();
        if spin_module(arg0).is_some() {
            return Ok(());
        }
        let bytes = source.as_bytes()?;
        WasmBinaryType::from_bytes(&bytes).map(|_| ()).context("entrypoint is neither a Wasm module nor a Wasm component")
    }

    async fn run_wasi(&self, ctx: &impl RuntimeContext) -> Result<i32> {
        let Entrypoint { source, func, arg0, .. } = ctx.entrypoint();
        let bytes = match spin_module(arg0) {
            Some(path) => std::borrow::Cow::Owned(std::fs::read(&path).with_context(|| format!("reading {} (named by /spin.toml)", path.display()))?),
            None => source.as_bytes()?,
        };
        let status = match WasmBinaryType::from_bytes(&bytes) {
            Some(WasmBinaryType::Module) => self.run_module(ctx, &bytes, &func).await,
            Some(WasmBinaryType::Component) => self.run_component(ctx, &bytes).await,
            None => anyhow::bail!("entrypoint is neither a Wasm module nor a Wasm component"),
        };
        // proc_exit(n) / wasi:cli/exit surfaces as an I32Exit error: that is an exit status.
        status.or_else(|err| match err.downcast_ref::<I32Exit>() {
            Some(exit) => Ok(exit.0),
            None => Err(err),
        })
    }
}

impl WasmtimeSandbox {
    async fn run_module(&self, ctx: &impl RuntimeContext, bytes: &[u8], func: &str) -> Result<i32> {
        let module = Module::from_binary(&self.engine, bytes)?;
        let mut store = Store::new(&self.engine, wasi_builder(ctx)?.build_p1());
        let mut linker: Linker<WasiP1Ctx> = Linker::new(&self.engine);
        preview1::add_to_linker_async(&mut linker, |cx| cx)?;
        let instance = linker.instantiate_async(&mut store, &module).await?;
        let start = instance
            .get_func(&mut store, func)
            .with_context(|| format!("module does not export function {func:?}"))?;
        start.call_async(&mut store, &[], &mut []).await?;
        Ok(0)
    }

    async fn run_component(&self, ctx: &impl RuntimeContext, bytes: &[u8]) -> Result<i32> {
        let component = Component::from_binary(&self.engine, bytes)?;
        let state = P2State { ctx: wasi_builder(ctx)?.build(), table: ResourceTable::new() };
        let mut store = Store::new(&self.engine, state);
        let mut linker = wasmtime::component::Linker::new(&self.engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        let command = Command::instantiate_async(&mut store, &component, &linker).await?;
        match command.wasi_cli_run().call_run(&mut store).await? {
            Ok(()) => Ok(0),
            Err(()) => Ok(1),
        }
    }
}

struct P2State {
    ctx: WasiCtx,
    table: ResourceTable,
}

impl WasiView for P2State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.ctx, table: &mut self.table }
    }
}

fn wasi_builder(ctx: &impl RuntimeContext) -> Result<WasiCtxBuilder> {
    let envs: Vec<(String, String)> = ctx
        .envs()
        .iter()
        .map(|v| {
            let (k, v) = v.split_once('=').unwrap_or((v.as_str(), ""));
            (k.to_string(), v.to_string())
        })
        .collect();
    let mut builder = WasiCtxBuilder::new();
    builder
        .args(ctx.args())
        .envs(&envs)
        .inherit_stdio()
        .inherit_network()
        .allow_ip_name_lookup(true)
        .preopened_dir("/", "/", DirPerms::all(), FilePerms::all())?;
    Ok(builder)
}

/// Spin-style images (a FROM-scratch rootfs with /spin.toml, no entrypoint) get `command: ["/"]` from
/// wasm-admission, as the Spin shim expects. This shim is not the Spin runtime (containerd-shim-spin is
/// not on crates.io): registered under the Spin handler for placement, it runs the module the first
/// `source = "..."` line of /spin.toml names as a plain WASI command.
fn spin_module(arg0: Option<&std::path::Path>) -> Option<std::path::PathBuf> {
    if arg0 != Some(std::path::Path::new("/")) {
        return None;
    }
    let manifest = std::fs::read_to_string("/spin.toml").ok()?;
    manifest.lines().find_map(|line| {
        let value = line.trim().strip_prefix("source")?.trim_start().strip_prefix('=')?.trim();
        let file = value.strip_prefix('"')?.strip_suffix('"')?;
        Some(std::path::Path::new("/").join(file))
    })
}

fn main() {
    WasmtimeShim::run(None);
}
