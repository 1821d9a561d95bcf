//! `kubectl gitrollout version`: the release and the commit the binary was built from.

use anyhow::Result;

use crate::ui::Ui;

pub fn run(ui: &mut Ui<'_>) -> Result<()> {
    writeln!(
        ui.out(),
        "kubectl-gitrollout v{} (commit {})",
        env!("CARGO_PKG_VERSION"),
        env!("GITROLLOUT_COMMIT")
    )?;
    Ok(())
}
