//! The registry of repair playbooks, embedded in the binary and reviewed like migrations.
//!
//! A playbook is one file under `playbooks/`: a header of `-- key: value` lines, then SQL
//! statements separated by semicolons (split with PostgreSQL's own parser, so a `;` inside a
//! `$$` body does not split). Header keys: `id` (`R-NNN`), `title`, `description` (may repeat;
//! the lines are joined), `required_before` and `required_after` (one [`ObjectRef`] per line,
//! may repeat).
//!
//! **Hash.** Each playbook has a SHA-256, in lower-case hex, over its canonical form: the line
//! `brokerdb-repair-playbook-v1`, then the id on its own line, then each statement with its
//! line endings normalised to `\n` (CRLF and lone CR become LF), surrounding whitespace trimmed
//! and followed by `;\n`. Only the id and the statements count: editing the title, the
//! description or the header's comments keeps the hash; changing one character of SQL changes
//! it. The listing is sorted by id (a stable sort).

use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use crate::error::RepairError;
use crate::lint;
use crate::objects::ObjectRef;

/// The first line of every canonical form (a new format gets a new tag).
pub const CANONICAL_TAG: &str = "brokerdb-repair-playbook-v1";

/// The shipped playbook files: (file name, text).
const FILES: &[(&str, &str)] = &[
    (
        "R-001_restore_indexes.sql",
        include_str!("../playbooks/R-001_restore_indexes.sql"),
    ),
    (
        "R-002_restore_row_level_security.sql",
        include_str!("../playbooks/R-002_restore_row_level_security.sql"),
    ),
    (
        "R-003_restore_functions_and_triggers.sql",
        include_str!("../playbooks/R-003_restore_functions_and_triggers.sql"),
    ),
    (
        "R-004_restore_grants.sql",
        include_str!("../playbooks/R-004_restore_grants.sql"),
    ),
];

/// The text of a shipped playbook file, by file name.
pub fn shipped_file(name: &str) -> Option<&'static str> {
    FILES
        .iter()
        .find(|(file, _)| *file == name)
        .map(|(_, text)| *text)
}

/// The names of the shipped playbook files.
pub fn shipped_files() -> impl Iterator<Item = &'static str> {
    FILES.iter().map(|(file, _)| *file)
}

/// One repair playbook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Playbook {
    /// `R-NNN`.
    pub id: String,
    /// One line.
    pub title: String,
    /// What it repairs and when to use it.
    pub description: String,
    /// The statements, in order, without their terminating semicolons.
    pub statements: Vec<String>,
    /// Objects that must exist before it runs.
    pub required_before: Vec<ObjectRef>,
    /// Objects that must exist (and be enabled) after it ran.
    pub required_after: Vec<ObjectRef>,
    /// SHA-256 of the canonical form, lower-case hex.
    pub hash: String,
}

/// The canonical form of a playbook's id and statements (see the module documentation).
pub fn canonical_form(id: &str, statements: &[String]) -> String {
    let mut out = format!("{CANONICAL_TAG}\n{id}\n");
    for statement in statements {
        let normalised = statement.replace("\r\n", "\n").replace('\r', "\n");
        out.push_str(normalised.trim());
        out.push_str(";\n");
    }
    out
}

/// SHA-256 of the canonical form, lower-case hex.
pub fn playbook_hash(id: &str, statements: &[String]) -> String {
    hex::encode(Sha256::digest(canonical_form(id, statements).as_bytes()))
}

/// Parses one playbook file.
pub fn parse_playbook(file: &'static str, text: &str) -> Result<Playbook, RepairError> {
    let bad = |reason: String| RepairError::Registry { file, reason };
    let (mut id, mut title) = (None, None);
    let mut description: Vec<String> = Vec::new();
    let (mut before, mut after) = (Vec::new(), Vec::new());
    let mut body_start = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            body_start += line.len();
            continue;
        }
        let Some(comment) = trimmed.strip_prefix("--") else {
            break;
        };
        body_start += line.len();
        let Some((key, value)) = comment.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            "id" => id = Some(value.to_owned()),
            "title" => title = Some(value.to_owned()),
            "description" => description.push(value.to_owned()),
            "required_before" => before.push(value.parse().map_err(|e| bad(format!("{e}")))?),
            "required_after" => after.push(value.parse().map_err(|e| bad(format!("{e}")))?),
            _ => {}
        }
    }
    let id = id.ok_or_else(|| bad("no `-- id:` line".into()))?;
    let valid_id =
        id.len() == 5 && id.starts_with("R-") && id[2..].bytes().all(|b| b.is_ascii_digit());
    if !valid_id {
        return Err(bad(format!("the id {id} is not R-NNN")));
    }
    let title = title.ok_or_else(|| bad("no `-- title:` line".into()))?;
    let body = text.get(body_start..).unwrap_or_default();
    let statements: Vec<String> = pg_query::split_with_parser(body)
        .map_err(|e| bad(format!("cannot split the statements: {e}")))?
        .into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    if statements.is_empty() {
        return Err(bad("no statements".into()));
    }
    let hash = playbook_hash(&id, &statements);
    Ok(Playbook {
        id,
        title,
        description: description.join(" "),
        statements,
        required_before: before,
        required_after: after,
        hash,
    })
}

/// The playbooks, sorted by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registry {
    playbooks: Vec<Playbook>,
}

impl Registry {
    /// A registry of these playbooks, linted and sorted by id; duplicate ids are refused.
    pub fn new(mut playbooks: Vec<Playbook>) -> Result<Self, RepairError> {
        playbooks.sort_by(|a, b| a.id.cmp(&b.id));
        for pair in playbooks.windows(2) {
            if let [a, b] = pair
                && a.id == b.id
            {
                return Err(RepairError::Registry {
                    file: "registry",
                    reason: format!("the id {} is used twice", a.id),
                });
            }
        }
        for playbook in &playbooks {
            for statement in &playbook.statements {
                lint::check(statement)?;
            }
        }
        Ok(Self { playbooks })
    }

    /// The playbooks shipped in this binary (parsed and linted once).
    pub fn builtin() -> Result<&'static Registry, RepairError> {
        static BUILTIN: OnceLock<Result<Registry, String>> = OnceLock::new();
        let built = BUILTIN.get_or_init(|| {
            FILES
                .iter()
                .map(|(file, text)| parse_playbook(file, text))
                .collect::<Result<Vec<_>, _>>()
                .and_then(Registry::new)
                .map_err(|e| e.to_string())
        });
        built.as_ref().map_err(|reason| RepairError::Registry {
            file: "registry",
            reason: reason.clone(),
        })
    }

    /// Every playbook, sorted by id.
    pub fn list(&self) -> &[Playbook] {
        &self.playbooks
    }

    /// The playbook with this id.
    pub fn get(&self, id: &str) -> Result<&Playbook, RepairError> {
        self.playbooks
            .iter()
            .find(|p| p.id == id)
            .ok_or_else(|| RepairError::UnknownPlaybook(id.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statements(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_builtin_registry_parses_lints_and_is_sorted() -> Result<(), RepairError> {
        let registry = Registry::builtin()?;
        let ids: Vec<&str> = registry.list().iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["R-001", "R-002", "R-003", "R-004"]);
        for p in registry.list() {
            assert_eq!(p.hash, playbook_hash(&p.id, &p.statements));
            assert_eq!(p.hash.len(), 64);
            assert!(!p.required_after.is_empty(), "{}", p.id);
        }
        Ok(())
    }

    #[test]
    fn the_hash_ignores_line_endings_and_surrounding_space_only() {
        let base = playbook_hash("R-001", &statements(&["SELECT 1", "SELECT\n2"]));
        assert_eq!(
            base,
            playbook_hash("R-001", &statements(&["  SELECT 1\n", "SELECT\r\n2"]))
        );
        assert_eq!(
            base,
            playbook_hash("R-001", &statements(&["SELECT 1", "SELECT\r2"]))
        );
        assert_ne!(
            base,
            playbook_hash("R-002", &statements(&["SELECT 1", "SELECT\n2"]))
        );
        assert_ne!(
            base,
            playbook_hash("R-001", &statements(&["SELECT 1", "SELECT  2"]))
        );
        assert_ne!(
            base,
            playbook_hash("R-001", &statements(&["SELECT\n2", "SELECT 1"]))
        );
    }

    #[test]
    fn the_canonical_form_is_documented() {
        assert_eq!(
            canonical_form("R-009", &statements(&["A\r\nB ", "C"])),
            "brokerdb-repair-playbook-v1\nR-009\nA\nB;\nC;\n"
        );
        // sha256 of that text, as `printf '…' | sha256sum` prints it.
        assert_eq!(
            playbook_hash("R-009", &statements(&["A\r\nB ", "C"])),
            hex::encode(Sha256::digest(
                b"brokerdb-repair-playbook-v1\nR-009\nA\nB;\nC;\n"
            ))
        );
    }

    #[test]
    fn a_file_parses_into_header_and_statements() -> Result<(), RepairError> {
        let text = "-- id: R-042\n-- title: Test\n-- description: one\n-- description: two\n\
                    -- required_before: table:t\n-- required_after: index:i\n\n\
                    CREATE INDEX IF NOT EXISTS i ON public.t (a);\n\
                    DO $$ BEGIN PERFORM 1; END $$;\n";
        let p = parse_playbook("test.sql", text)?;
        assert_eq!(p.id, "R-042");
        assert_eq!(p.description, "one two");
        assert_eq!(p.required_before, [ObjectRef::Table("t".into())]);
        assert_eq!(p.required_after, [ObjectRef::Index("i".into())]);
        assert_eq!(
            p.statements,
            [
                "CREATE INDEX IF NOT EXISTS i ON public.t (a)",
                "DO $$ BEGIN PERFORM 1; END $$"
            ]
        );
        Ok(())
    }

    #[test]
    fn malformed_files_are_refused() {
        for text in [
            "-- title: x\nSELECT 1;",
            "-- id: R-1\n-- title: x\nSELECT 1;",
            "-- id: R-001\nSELECT 1;",
            "-- id: R-001\n-- title: x\n",
            "-- id: R-001\n-- title: x\n-- required_after: nope\nSELECT 1;",
        ] {
            assert!(parse_playbook("t.sql", text).is_err(), "{text}");
        }
    }

    #[test]
    fn duplicate_ids_are_refused() -> Result<(), RepairError> {
        let text = "-- id: R-001\n-- title: x\nCREATE INDEX IF NOT EXISTS i ON public.t (a);";
        let p = parse_playbook("a.sql", text)?;
        assert!(Registry::new(vec![p.clone(), p]).is_err());
        Ok(())
    }
}
