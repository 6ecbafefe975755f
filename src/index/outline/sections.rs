//! What each marker does to the outline's sections: opening, nesting,
//! explicit and implicit ends, and the log's own times.

use super::dialects::{Kind, Marker};
use super::text::LogTime;
use super::{MAX_SECTIONS, Outline, Section};

impl Outline {
    /// Applies `marker`, found on `line` (arrived at `micros`; `time` is the
    /// time the line itself carries, if any).
    pub(super) fn marker(&mut self, marker: Marker, line: u64, micros: u64, time: Option<LogTime>) {
        self.version += 1;
        match marker {
            Marker::Open {
                kind,
                name,
                id,
                at,
                flat,
            } => {
                let at = at.or(time);
                if at.is_some() {
                    self.last_time = at;
                }
                if flat {
                    let same = id.clone();
                    self.close_before(line, micros, at, |s| s.kind == kind && s.id == same);
                }
                let index = self.open_section(kind, name, id, line, micros, at);
                if kind == Kind::Jenkins {
                    self.bodies.push(index);
                }
            }
            Marker::Close { kind, id, at, only } => {
                let at = at.or(time);
                if at.is_some() {
                    self.last_time = at;
                }
                let which = |s: &Section| s.kind == kind && (id.is_none() || s.id == id);
                let Some(pos) = self.open.iter().rposition(|&i| which(&self.sections[i])) else {
                    return;
                };
                let closed = if only {
                    vec![self.open.remove(pos)]
                } else {
                    self.open.split_off(pos)
                };
                for index in closed {
                    self.end(index, line, micros, at);
                }
            }
            Marker::TaskFinished { at } => {
                let at = at.or(time);
                let Some(pos) = self
                    .open
                    .iter()
                    .rposition(|&i| self.sections[i].id.as_deref() == Some("task"))
                else {
                    return;
                };
                let mut closed = self.open.split_off(pos);
                let task = closed.remove(0);
                for index in closed {
                    self.end(index, line.saturating_sub(1), micros, at);
                }
                self.end(task, line, micros, at);
            }
            Marker::TimerStart { id } => {
                let fold = self
                    .open
                    .iter()
                    .rev()
                    .copied()
                    .find(|&i| self.sections[i].kind == Kind::Travis);
                self.timer = Some((id, fold));
            }
            Marker::TimerEnd { id, start, finish } => {
                // A timer ended twice (2019 workers) counts once.
                let Some((running, fold)) = self.timer.take() else {
                    return;
                };
                if running != id {
                    self.timer = Some((running, fold));
                    return;
                }
                self.last_time = Some(finish);
                if let Some(section) = fold.and_then(|i| self.sections.get_mut(i)) {
                    section.log_start.get_or_insert(start);
                    section.log_end = Some(finish);
                }
            }
            Marker::Body => self.bodies.push(None),
            Marker::BodyEnd { at } => {
                let at = at.or(time);
                if let Some(Some(index)) = self.bodies.pop() {
                    if let Some(pos) = self.open.iter().rposition(|&i| i == index) {
                        for index in self.open.split_off(pos) {
                            self.end(index, line, micros, at);
                        }
                    }
                }
            }
        }
    }

    fn open_section(
        &mut self,
        kind: Kind,
        name: String,
        id: Option<String>,
        line: u64,
        micros: u64,
        at: Option<LogTime>,
    ) -> Option<usize> {
        if self.sections.len() >= MAX_SECTIONS {
            self.sections_dropped += 1;
            return None;
        }
        let parent = self.open.last().copied();
        self.sections.push(Section {
            name,
            kind,
            id,
            parent,
            depth: self.open.len(),
            first_line: line,
            last_line: None,
            start_micros: micros,
            end_micros: None,
            log_start: at,
            log_end: None,
            errors: 0,
        });
        self.open.push(self.sections.len() - 1);
        Some(self.sections.len() - 1)
    }

    /// Ends section `index` on `line`, at `micros` (arrival) and `at` (the
    /// log's time, if it gives one).
    fn end(&mut self, index: usize, line: u64, micros: u64, at: Option<LogTime>) {
        let section = &mut self.sections[index];
        section.last_line = Some(line.max(section.first_line));
        section.end_micros = Some(micros);
        if at.is_some() && section.log_start.is_some() {
            section.log_end = at;
        }
    }

    /// Ends the innermost open section `which` matches (and what it holds)
    /// on the line before `line`, which opens its successor.
    fn close_before(
        &mut self,
        line: u64,
        micros: u64,
        at: Option<LogTime>,
        which: impl Fn(&Section) -> bool,
    ) {
        let Some(pos) = self.open.iter().rposition(|&i| which(&self.sections[i])) else {
            return;
        };
        for index in self.open.split_off(pos) {
            self.end(index, line.saturating_sub(1), micros, at);
        }
    }
}
