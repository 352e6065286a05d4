//! Running Terraform on `terraform/`: one workspace per environment, the same variables for every
//! command of an environment (so that a plan after an apply compares like with like), offline
//! `init` from a provider mirror when there is one, and the emulator switches.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::flags;
use crate::tfvars;
use crate::tools;
use crate::util::{self, run};

/// The Terraform root module, relative to the project root.
pub const DIR: &str = "terraform";

/// Credentials handed to Terraform and the SDK against an emulator (moto accepts any).
pub const EMULATOR_ACCESS_KEY: &str = "thumbforge-emulator";

/// Terraform for one environment.
#[derive(Debug, Clone)]
pub struct Terraform {
    dir: PathBuf,
    workspace: String,
    vars: Vec<(String, String)>,
    env: Vec<(OsString, Option<OsString>)>,
    plugin_dir: Option<PathBuf>,
}

impl Terraform {
    /// Terraform for the deployment `target` names (pure: the commands that run it check first
    /// that `terraform` is installed, with [`tools::terraform`]).
    pub fn new(target: &flags::Target) -> anyhow::Result<Self> {
        let mut vars = vec![
            ("environment".to_owned(), target.env.clone()),
            ("region".to_owned(), target.region.clone()),
        ];
        let mut env: Vec<(OsString, Option<OsString>)> =
            vec![("TF_IN_AUTOMATION".into(), Some("1".into())), ("TF_INPUT".into(), Some("0".into()))];
        if let Some(endpoint) = &target.endpoint {
            vars.push(("aws_endpoint".to_owned(), endpoint.clone()));
            // Never hand real credentials to an emulator, nor let a profile override these.
            env.extend(emulator_env(&target.region));
        }
        Ok(Self {
            dir: util::project_root().join(DIR),
            workspace: target.env.clone(),
            vars,
            env,
            plugin_dir: tools::plugin_dir(target.plugin_dir.as_deref()),
        })
    }

    /// Keeps Terraform's working data (providers, selected workspace) in `dir` instead of
    /// `terraform/.terraform`, so that a test run never switches a developer's workspace.
    pub fn with_data_dir(mut self, dir: &Path) -> Self {
        self.env.push(("TF_DATA_DIR".into(), Some(dir.as_os_str().to_owned())));
        self
    }

    /// `terraform -chdir=terraform ARGS` with this environment's process environment.
    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut command = Command::new("terraform");
        // Terraform never reads the terminal here (-input=false, TF_INPUT=0); xtask asks itself.
        command.arg(format!("-chdir={}", self.dir.display())).args(args).stdin(std::process::Stdio::null());
        for (name, value) in &self.env {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        command
    }

    /// `-var=NAME=VALUE` for every variable of the environment, after the variables `deploy`
    /// wrote for it from its `--config` ([`tfvars::deployment_path`]) and the environment's own
    /// variable file `terraform/env/NAME.tfvars` when there are (deployment choices such as
    /// `price_class` or `thumbnail_reserved_concurrency`).
    fn var_args(&self) -> Vec<String> {
        let deployment = tfvars::deployment_path(&self.workspace);
        let deployment = deployment.is_file().then(|| format!("-var-file={}", deployment.display()));
        let file = Path::new("env").join(format!("{}.tfvars", self.workspace));
        let file = self.dir.join(&file).is_file().then(|| format!("-var-file={}", file.display()));
        deployment
            .into_iter()
            .chain(file)
            .chain(self.vars.iter().map(|(name, value)| format!("-var={name}={value}")))
            .collect()
    }

    /// `terraform init` (offline from the mirror when there is one; the lock file is never
    /// rewritten), then selects the environment's workspace, creating it if needed.
    pub fn init(&self) -> anyhow::Result<()> {
        let mut args = vec!["init".to_owned(), "-input=false".to_owned(), "-lockfile=readonly".to_owned()];
        let hint = match &self.plugin_dir {
            Some(dir) => {
                args.push(format!("-plugin-dir={}", dir.display()));
                "the provider mirror must hold hashicorp/aws 5.100.0 matching terraform/.terraform.lock.hcl"
            }
            None => {
                "check network access to registry.terraform.io, or pass --plugin-dir DIR (a provider mirror)"
            }
        };
        run(&mut self.command(&args), hint)?;
        run(
            &mut self.command(["workspace", "select", "-or-create=true", &self.workspace]),
            "see Terraform's message above",
        )
    }

    /// `terraform apply`: with `auto_approve`, at once; otherwise a saved plan, a question, then
    /// exactly that plan.
    pub fn apply(&self, auto_approve: bool) -> anyhow::Result<()> {
        let hint =
            "fix the error above, then run the same command again (Terraform resumes where it stopped)";
        if auto_approve {
            let mut args = vec!["apply".to_owned(), "-auto-approve".to_owned()];
            args.extend(self.var_args());
            return run(&mut self.command(&args), hint);
        }
        let plan = self.plan_file()?;
        let mut args = vec!["plan".to_owned(), format!("-out={}", plan.display())];
        args.extend(self.var_args());
        run(&mut self.command(&args), hint)?;
        if !confirm(&format!("Apply this plan to environment `{}`?", self.workspace))? {
            bail!("nothing was changed (answer `y`, or pass --yes)");
        }
        run(&mut self.command(["apply".to_owned(), plan.display().to_string()]), hint)
    }

    fn plan_file(&self) -> anyhow::Result<PathBuf> {
        let dir = util::project_root().join("target").join("terraform");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(dir.join(format!("{}.tfplan", self.workspace)))
    }

    /// `terraform plan -detailed-exitcode`: whether anything would change.
    pub fn has_changes(&self) -> anyhow::Result<bool> {
        let mut args = vec!["plan".to_owned(), "-detailed-exitcode".to_owned(), "-lock=false".to_owned()];
        args.extend(self.var_args());
        let mut command = self.command(&args);
        println!("$ {}", util::display(&command));
        let status = command.status().context("running terraform plan")?;
        match status.code() {
            Some(0) => Ok(false),
            Some(2) => Ok(true),
            _ => bail!("`terraform plan` failed ({status}): see its message above"),
        }
    }

    /// `terraform destroy`.
    pub fn destroy(&self, auto_approve: bool) -> anyhow::Result<()> {
        let mut args = vec!["destroy".to_owned()];
        if auto_approve {
            args.push("-auto-approve".to_owned());
        }
        args.extend(self.var_args());
        run(
            &mut self.command(&args),
            "fix the error above and run destroy again; what is already gone stays gone",
        )
    }

    /// The addresses still in the state.
    pub fn state_list(&self) -> anyhow::Result<Vec<String>> {
        let mut command = self.command(["state", "list"]);
        println!("$ {}", util::display(&command));
        let output = command.output().context("running terraform state list")?;
        // A workspace nothing was ever applied to has no state file at all.
        if !output.status.success()
            && String::from_utf8_lossy(&output.stderr).contains("No state file was found")
        {
            return Ok(Vec::new());
        }
        if !output.status.success() {
            bail!("`terraform state list` failed: {}", String::from_utf8_lossy(&output.stderr));
        }
        Ok(String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_owned)
            .filter(|l| !l.is_empty())
            .collect())
    }

    /// The stack's outputs; `None` when nothing is deployed.
    pub fn outputs(&self) -> anyhow::Result<Option<Outputs>> {
        let mut command = self.command(["output", "-json"]);
        println!("$ {}", util::display(&command));
        let output = command.output().context("running terraform output")?;
        if !output.status.success() {
            bail!("`terraform output` failed: {}", String::from_utf8_lossy(&output.stderr));
        }
        let raw: BTreeMap<String, OutputValue> =
            serde_json::from_slice(&output.stdout).context("reading `terraform output -json`")?;
        if raw.is_empty() {
            return Ok(None);
        }
        let values: serde_json::Map<String, serde_json::Value> =
            raw.into_iter().map(|(k, v)| (k, v.value)).collect();
        serde_json::from_value(serde_json::Value::Object(values))
            .map(Some)
            .context("the stack's outputs lack a value xtask needs (see terraform/outputs.tf)")
    }
}

#[derive(Debug, Deserialize)]
struct OutputValue {
    value: serde_json::Value,
}

/// What `terraform/outputs.tf` gives.
#[derive(Debug, Clone, Deserialize)]
pub struct Outputs {
    /// `https://<distribution>/`.
    pub site_url: String,
    /// The API through CloudFront.
    pub api_url: String,
    /// The API id.
    pub api_id: String,
    /// The CloudFront distribution id.
    pub distribution_id: String,
    /// Uploads and thumbnails.
    pub media_bucket: String,
    /// The page.
    pub site_bucket: String,
    /// Where browsers PUT uploads.
    pub upload_origin: String,
    /// The API function's name.
    pub presign_function: String,
    /// The thumbnail function's name.
    pub thumbnail_function: String,
    /// The dead-letter queue of the thumbnail function's failed S3 events.
    pub dlq_url: String,
    /// The image catalog (DynamoDB). Optional here and below: a stack deployed before it existed
    /// must still be destroyable.
    #[serde(default)]
    pub table_name: Option<String>,
    /// The dead-letter queue of the clean-up of deleted images (the table stream's failed
    /// batches).
    #[serde(default)]
    pub cleanup_dlq_url: Option<String>,
    /// The UUID of the clean-up's event source mapping (the table's stream → the thumbnail
    /// function).
    #[serde(default)]
    pub cleanup_mapping_uuid: Option<String>,
    /// The Cognito user pool; `None` with `auth.provider = "oidc"`.
    #[serde(default)]
    pub user_pool_id: Option<String>,
    /// The pool's issuer (the tokens' `iss`); `None` with `oidc`.
    #[serde(default)]
    pub user_pool_issuer: Option<String>,
    /// The hosted UI's host; `None` with `oidc`.
    #[serde(default)]
    pub auth_domain: Option<String>,
    /// The page's OAuth client id.
    #[serde(default)]
    pub auth_client_id: Option<String>,
    /// The authorization endpoint.
    #[serde(default)]
    pub auth_authorize_url: Option<String>,
    /// The token endpoint.
    #[serde(default)]
    pub auth_token_url: Option<String>,
    /// Where signing out sends the browser (empty when the provider has none).
    #[serde(default)]
    pub auth_logout_url: Option<String>,
}

/// The process environment of every AWS client pointed at an emulator.
pub fn emulator_env(region: &str) -> Vec<(OsString, Option<OsString>)> {
    vec![
        ("AWS_ACCESS_KEY_ID".into(), Some(EMULATOR_ACCESS_KEY.into())),
        ("AWS_SECRET_ACCESS_KEY".into(), Some(EMULATOR_ACCESS_KEY.into())),
        ("AWS_REGION".into(), Some(region.into())),
        ("AWS_SESSION_TOKEN".into(), None),
        ("AWS_PROFILE".into(), None),
    ]
}

/// Fails at once when a question will have to be asked and nobody can answer it (CI).
pub fn require_answerable(yes: bool) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if !yes && !std::io::stdin().is_terminal() {
        bail!("there is no terminal to confirm on: pass --yes to proceed without asking");
    }
    Ok(())
}

/// Asks a yes/no question on the terminal; refuses to guess without one.
pub fn confirm(question: &str) -> anyhow::Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        bail!("{question} needs an answer, and there is no terminal to ask: pass --yes");
    }
    print!("{question} [y/N] ");
    std::io::stdout().flush().context("writing to the terminal")?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).context("reading the answer")?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// The static checks of `terraform/`, as the commands `cargo xtask test` runs.
pub fn check_commands(plugin_dir: Option<&Path>) -> Vec<(&'static str, Command, &'static str)> {
    let dir = util::project_root().join(DIR);
    let terraform = |args: &[&str]| {
        let mut command = Command::new("terraform");
        command.arg(format!("-chdir={}", dir.display())).args(args).env("TF_IN_AUTOMATION", "1");
        command
    };
    let mut init = terraform(&["init", "-backend=false", "-input=false", "-lockfile=readonly"]);
    if let Some(dir) = plugin_dir {
        init.arg(format!("-plugin-dir={}", dir.display()));
    }
    vec![
        (
            "terraform init",
            init,
            "the provider must match terraform/.terraform.lock.hcl; see Terraform's message",
        ),
        ("terraform validate", terraform(&["validate"]), "fix the configuration errors above"),
        (
            "terraform test",
            terraform(&["test"]),
            "see the failing run above; rerun its file alone with `terraform -chdir=terraform test -filter=tests/FILE.tftest.hcl`",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(endpoint: Option<&str>) -> flags::Target {
        flags::Target {
            env: "qa".into(),
            region: "eu-west-3".into(),
            endpoint: endpoint.map(str::to_owned),
            plugin_dir: Some(PathBuf::from("/mirror")),
            yes: true,
        }
    }

    #[test]
    fn every_command_of_an_environment_gets_the_same_variables() {
        let tf = Terraform::new(&target(None)).unwrap();
        assert_eq!(tf.var_args(), ["-var=environment=qa", "-var=region=eu-west-3"]);
        let shown = util::display(&tf.command(["plan"]));
        assert!(shown.starts_with("terraform -chdir=") && shown.ends_with("/terraform plan"), "{shown}");

        let tf = Terraform::new(&target(Some("http://127.0.0.1:5000"))).unwrap();
        assert_eq!(tf.var_args().last().unwrap(), "-var=aws_endpoint=http://127.0.0.1:5000");
        let command = tf.command(["apply"]);
        let envs: BTreeMap<_, _> = command.get_envs().collect();
        assert_eq!(
            envs[std::ffi::OsStr::new("AWS_ACCESS_KEY_ID")],
            Some(std::ffi::OsStr::new(EMULATOR_ACCESS_KEY))
        );
        assert_eq!(
            envs[std::ffi::OsStr::new("AWS_PROFILE")],
            None,
            "a profile must not leak to the emulator"
        );
    }

    #[test]
    fn the_static_checks_init_offline_from_the_mirror() {
        let checks = check_commands(Some(Path::new("/mirror")));
        let names: Vec<_> = checks.iter().map(|c| c.0).collect();
        assert_eq!(names, ["terraform init", "terraform validate", "terraform test"]);
        let init = util::display(&checks[0].1);
        assert!(
            init.ends_with("init -backend=false -input=false -lockfile=readonly -plugin-dir=/mirror"),
            "{init}"
        );
    }

    /// The numbers in `var.NAME`'s validation condition `var.NAME >= A && var.NAME <= B`.
    fn bounds(variables: &str, name: &str) -> (u32, u32) {
        let block = &variables[variables.find(&format!("variable \"{name}\" {{")).unwrap()..];
        let condition = block.lines().find(|l| l.trim_start().starts_with("condition")).unwrap();
        let number = |op: &str| -> u32 {
            let after = &condition
                [condition.find(&format!("var.{name} {op} ")).unwrap() + name.len() + op.len() + 6..];
            after.split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
        };
        (number(">="), number("<="))
    }

    /// Terraform's validations and the typed config's checks state the same limits (each is
    /// written in both languages, so this holds them together).
    #[test]
    fn terraform_validates_the_limits_the_typed_config_does() {
        use thumbforge_core::config::{
            LAMBDA_MAX_TIMEOUT_SECONDS, LOG_RETENTION_DAYS, MEMORY_MB, PRESIGN_MAX_TIMEOUT_SECONDS,
        };
        let variables = std::fs::read_to_string(util::project_root().join(DIR).join("variables.tf")).unwrap();
        assert_eq!(bounds(&variables, "presign_timeout_seconds"), (1, PRESIGN_MAX_TIMEOUT_SECONDS));
        assert_eq!(bounds(&variables, "thumbnail_timeout_seconds"), (1, LAMBDA_MAX_TIMEOUT_SECONDS));
        for name in ["presign_memory_mb", "thumbnail_memory_mb"] {
            assert_eq!(bounds(&variables, name), MEMORY_MB, "{name}");
        }
        let days: Vec<String> = LOG_RETENTION_DAYS.iter().map(u32::to_string).collect();
        assert!(variables.contains(&format!("contains([{}], var.log_retention_days)", days.join(", "))));
    }

    /// The numbers in `EXPR >= A` and `EXPR <= B`, wherever they are in `variables`.
    fn expression_bounds(variables: &str, expr: &str) -> (u32, u32) {
        let number = |op: &str| -> u32 {
            let needle = format!("{expr} {op} ");
            let at = variables.find(&needle).unwrap_or_else(|| panic!("no `{needle}` in variables.tf"));
            let after = &variables[at + needle.len()..];
            after.split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
        };
        (number(">="), number("<="))
    }

    /// The `[auth]` ranges are written twice, in `Auth::problems` and in `var.auth`'s validations:
    /// the Rust rules must accept exactly the range Terraform does (each end, and one past it).
    #[test]
    fn terraform_validates_the_auth_ranges_the_typed_config_does() {
        use thumbforge_core::auth::Auth;
        type Set = fn(&mut Auth, u32);
        let variables = std::fs::read_to_string(util::project_root().join(DIR).join("variables.tf")).unwrap();
        let fields: [(&str, Set); 4] = [
            ("access_token_minutes", |a, v| a.access_token_minutes = v),
            ("id_token_minutes", |a, v| a.id_token_minutes = v),
            ("refresh_token_days", |a, v| a.refresh_token_days = v),
            ("password.min_length", |a, v| a.password.min_length = u8::try_from(v).unwrap()),
        ];
        for (field, set) in fields {
            let (min, max) = expression_bounds(&variables, &format!("var.auth.{field}"));
            let accepts = |value: u32| {
                let mut auth = Auth::default();
                set(&mut auth, value);
                auth.problems().is_empty()
            };
            assert!(min > 0 && accepts(min) && !accepts(min - 1), "{field}: Terraform's minimum is {min}");
            assert!(accepts(max) && !accepts(max + 1), "{field}: Terraform's maximum is {max}");
        }
    }

    /// `[cleanup]` and `thumbnails.cache_seconds` are checked twice too, in `Config::validate` and
    /// in the validations of `var.cleanup` and `var.thumbnail_cache_seconds`: the Rust rules must
    /// accept exactly the range Terraform does (each end, and one past it).
    #[test]
    fn terraform_validates_the_cleanup_and_cache_ranges_the_typed_config_does() {
        use thumbforge_core::Config;
        type Set = fn(&mut Config, u32);
        let variables = std::fs::read_to_string(util::project_root().join(DIR).join("variables.tf")).unwrap();
        let fields: [(&str, Set); 4] = [
            ("cleanup.batch_size", |c, v| c.cleanup.batch_size = u16::try_from(v).unwrap()),
            ("cleanup.max_retries", |c, v| c.cleanup.max_retries = v),
            ("cleanup.max_record_age_seconds", |c, v| c.cleanup.max_record_age_seconds = v),
            ("thumbnail_cache_seconds", |c, v| c.thumbnails.cache_seconds = v),
        ];
        for (field, set) in fields {
            let (min, max) = expression_bounds(&variables, &format!("var.{field}"));
            let accepts = |value: u32| {
                let mut config = Config::default();
                set(&mut config, value);
                config.validate().is_ok()
            };
            // A minimum of 0 has nothing below it in Rust's unsigned field.
            assert!(accepts(min) && (min == 0 || !accepts(min - 1)), "{field}: Terraform's minimum is {min}");
            assert!(accepts(max) && !accepts(max + 1), "{field}: Terraform's maximum is {max}");
        }
    }

    /// The table Terraform creates is the one thumbforge-catalog reads and writes.
    #[test]
    fn the_table_has_the_catalogs_schema() {
        use thumbforge_catalog::schema;
        let data = std::fs::read_to_string(util::project_root().join(DIR).join("data.tf")).unwrap();
        let setting = |name: &str| -> String {
            let line = data
                .lines()
                .map(str::trim)
                .find(|l| l.split_whitespace().next() == Some(name) && l.contains('='))
                .unwrap_or_else(|| panic!("no `{name} = ...` in data.tf"));
            line.split_once('=').unwrap().1.trim().trim_matches('"').to_owned()
        };
        assert_eq!(setting("hash_key"), schema::PK);
        assert_eq!(setting("range_key"), schema::SK);
        assert_eq!(setting("billing_mode"), schema::BILLING_MODE);
        assert_eq!(setting("stream_view_type"), schema::STREAM_VIEW_TYPE);
        assert_eq!(setting("stream_enabled"), "true");
        assert_eq!(setting("attribute_name"), schema::TTL_ATTRIBUTE, "the ttl block");
        // Both keys declared as strings, and nothing else (no index needs another attribute).
        let attributes: Vec<(String, String)> = data
            .split("attribute {")
            .skip(1)
            .map(|block| {
                let block = &block[..block.find('}').unwrap()];
                let value = |name: &str| {
                    block
                        .lines()
                        .map(str::trim)
                        .find(|l| l.starts_with(name))
                        .map(|l| l.split_once('=').unwrap().1.trim().trim_matches('"').to_owned())
                        .unwrap()
                };
                (value("name"), value("type"))
            })
            .collect();
        assert_eq!(
            attributes,
            [(schema::PK.to_owned(), "S".to_owned()), (schema::SK.to_owned(), "S".to_owned())]
        );
        // "${local.name}-images": thumbforge-<env>-images, long enough for the local stack too.
        assert!(data.contains("name         = \"${local.name}-images\""));
        assert!("thumbforge-a-images".len() >= schema::MIN_TABLE_NAME_LEN);
    }

    /// Terraform spells the functions' variable names out; they must be thumbforge_core::env's.
    #[test]
    fn terraform_sets_the_environment_variables_the_functions_read() {
        use thumbforge_core::env;
        let dir = util::project_root().join(DIR);
        let functions = std::fs::read_to_string(dir.join("functions.tf")).unwrap();
        let auth = std::fs::read_to_string(dir.join("auth.tf")).unwrap();
        for name in [env::BUCKET, env::TABLE, env::USER_POOL_ID] {
            assert!(functions.contains(&format!("    {name} ")), "functions.tf sets {name}");
        }
        let set_in_auth: Vec<&str> = auth
            .lines()
            .filter_map(|l| l.trim().strip_prefix("THUMBFORGE_"))
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        let expected = [
            env::AUTH_CLIENT_ID,
            env::AUTH_AUTHORIZE_URL,
            env::AUTH_TOKEN_URL,
            env::AUTH_LOGOUT_URL,
            env::AUTH_SCOPES,
        ];
        assert_eq!(
            set_in_auth.iter().map(|n| format!("THUMBFORGE_{n}")).collect::<Vec<_>>(),
            expected.map(str::to_owned)
        );
    }

    /// `terraform test` cannot tell two validations of one variable apart, so this counts: each
    /// variable needs at least as many failing runs as it has `validation` blocks, over every
    /// test file.
    #[test]
    fn every_validation_block_has_a_failing_case() {
        let dir = util::project_root().join(DIR);
        let variables = std::fs::read_to_string(dir.join("variables.tf")).unwrap();
        let mut blocks: BTreeMap<String, usize> = BTreeMap::new();
        let mut current = None;
        for line in variables.lines() {
            if let Some(rest) = line.strip_prefix("variable \"") {
                current = rest.split('"').next().map(str::to_owned);
            } else if line.trim() == "validation {" {
                *blocks.entry(current.clone().unwrap()).or_default() += 1;
            }
        }
        assert!(blocks.len() > 20, "{blocks:?}");
        let mut tests = String::new();
        for entry in std::fs::read_dir(dir.join("tests")).unwrap() {
            let path = entry.unwrap().path();
            if path.to_string_lossy().ends_with(".tftest.hcl") {
                tests += &std::fs::read_to_string(path).unwrap();
            }
        }
        assert!(blocks.contains_key("auth") && blocks.contains_key("local_origins"), "{blocks:?}");
        for (variable, count) in blocks {
            let cases = tests.matches(&format!("expect_failures = [var.{variable}]")).count();
            assert!(cases >= count, "var.{variable}: {count} validation blocks, {cases} failing runs");
        }
    }

    #[test]
    fn outputs_are_read_from_terraform_output_json() {
        let json = r#"{"site_url":{"sensitive":false,"type":"string","value":"https://d.cloudfront.net/"}}"#;
        let raw: BTreeMap<String, OutputValue> = serde_json::from_str(json).unwrap();
        assert_eq!(raw["site_url"].value, "https://d.cloudfront.net/");
    }

    /// Every output `Outputs` reads is declared in outputs.tf (a misspelt optional one would
    /// silently read as absent), and the clean-up's are read when the stack has them and absent
    /// when it is older than them.
    #[test]
    fn outputs_has_the_cleanup_queue_and_mapping() {
        let declared = std::fs::read_to_string(util::project_root().join(DIR).join("outputs.tf")).unwrap();
        for name in ["dlq_url", "table_name", "cleanup_dlq_url", "cleanup_mapping_uuid"] {
            assert!(declared.contains(&format!("output \"{name}\" {{")), "outputs.tf declares {name}");
        }
        let mut values = serde_json::json!({
            "site_url": "https://d/", "api_url": "https://d/api",
            "api_id": "a1", "distribution_id": "E1", "media_bucket": "m", "site_bucket": "s",
            "upload_origin": "https://m", "presign_function": "p", "thumbnail_function": "t",
            "dlq_url": "https://sqs/1/t-dlq",
        });
        let older: Outputs = serde_json::from_value(values.clone()).unwrap();
        assert_eq!((older.cleanup_dlq_url, older.cleanup_mapping_uuid), (None, None));
        values["cleanup_dlq_url"] = "https://sqs/1/t-cleanup-dlq".into();
        values["cleanup_mapping_uuid"] = "0b0c".into();
        let outputs: Outputs = serde_json::from_value(values).unwrap();
        assert_eq!(outputs.cleanup_dlq_url.as_deref(), Some("https://sqs/1/t-cleanup-dlq"));
        assert_eq!(outputs.cleanup_mapping_uuid.as_deref(), Some("0b0c"));
    }

    /// The test files' shared variables (tests/terraform.tfvars) replace every value of
    /// generated.auto.tfvars.json, which `terraform test` loads too: one they left out would come
    /// from thumbforge.toml, and the tests would depend on it.
    #[test]
    fn the_terraform_tests_set_every_generated_variable() {
        let dir = util::project_root().join(DIR);
        let generated: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&std::fs::read_to_string(util::project_root().join(tfvars::PATH)).unwrap())
                .unwrap();
        let shared = std::fs::read_to_string(dir.join("tests").join("terraform.tfvars")).unwrap();
        let set: std::collections::BTreeSet<&str> = shared
            .lines()
            .filter(|l| !l.starts_with([' ', '#', '}']))
            .filter_map(|l| l.split_once('=').map(|(name, _)| name.trim()))
            .collect();
        let missing: Vec<&str> =
            generated.keys().map(String::as_str).filter(|k| *k != "//" && !set.contains(k)).collect();
        assert!(generated.len() > 10, "{generated:?}");
        assert!(missing.is_empty(), "tests/terraform.tfvars does not set {missing:?}");
    }
}
