//! What `history` prints for several workloads: one table with NAMESPACE (for `-A`) and NAME
//! columns, a block per workload, `-o name`, and the `-o json` list document.

use std::io::{self, Write};

use jiff::Timestamp;
use rollout_core::History;
use serde::Serialize;
use serde_json::Value;
use tabwriter::TabWriter;

use crate::cli::Output;
use crate::render::{self, Commits, HistoryDoc};

/// The `-o json` document of several workloads, as kubectl lists objects.
#[derive(Debug, Serialize)]
pub struct ListDoc {
    pub kind: &'static str,
    pub items: Vec<HistoryDoc>,
}

impl ListDoc {
    pub fn new(items: &[(History, Commits)]) -> Self {
        ListDoc {
            kind: "List",
            items: items.iter().map(|(h, c)| HistoryDoc::new(h, c)).collect(),
        }
    }
}

/// Writes a document in a machine format: json, yaml or jsonpath. False for the other formats.
pub fn document(out: &mut dyn Write, doc: &impl Serialize, output: &Output) -> io::Result<bool> {
    match output {
        Output::Json => render::document(out, doc, false)?,
        Output::Yaml => render::document(out, doc, true)?,
        Output::JsonPath(template) => {
            let value: Value = serde_json::to_value(doc).map_err(io::Error::other)?;
            let text = template.render(&value).map_err(io::Error::other)?;
            out.write_all(text.as_bytes())?;
        }
        Output::Table | Output::Wide | Output::Name => return Ok(false),
    }
    Ok(true)
}

/// How the table looks.
#[derive(Debug, Clone, Copy)]
pub struct TableStyle {
    pub wide: bool,
    pub headers: bool,
    pub namespaces: bool,
}

/// Every revision of every workload in one table, each row naming its workload.
pub fn table(
    out: &mut dyn Write,
    items: &[(History, Commits)],
    now: Timestamp,
    style: TableStyle,
) -> io::Result<()> {
    let mut tw = TabWriter::new(out).padding(3);
    if style.headers {
        if style.namespaces {
            write!(tw, "NAMESPACE\t")?;
        }
        write!(
            tw,
            "NAME\tCURRENT\tREVISION\tAGE\tIMAGES\tCOMMIT\tCHANGE-CAUSE"
        )?;
        if style.wide {
            write!(tw, "\tOBJECT\tPODS")?;
        }
        writeln!(tw)?;
    }
    for (history, commits) in items {
        for revision in &history.revisions {
            if style.namespaces {
                write!(tw, "{}\t", history.namespace)?;
            }
            let cells = render::row(history, commits, revision, now, style.wide);
            write!(tw, "{}\t{}", history.workload(), cells.join("\t"))?;
            writeln!(tw)?;
        }
    }
    tw.flush()
}

/// Output with its first line (the table's header) left out, for `--no-headers`.
pub fn without_header(table: &[u8]) -> &[u8] {
    match table.iter().position(|b| *b == b'\n') {
        Some(end) => &table[end + 1..],
        None => &[],
    }
}
