//! Shared by the tui_* tests: the wizard driven headless through the same
//! `App::handle_key` the event loop uses, drawn on ratatui's `TestBackend`.
#![allow(dead_code)]

use kubewiz::tui::app::{self, App, Effect};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

pub struct Harness {
    pub app: App,
    pub term: Terminal<TestBackend>,
    pub dir: tempfile::TempDir,
    /// Effects other than Prepare, for the tests to look at.
    pub effects: Vec<Effect>,
}

impl Harness {
    pub fn new(width: u16, height: u16) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut app = App::new(dir.path().to_path_buf());
        // No preset directories of the machine's or the user's: screens look the same
        // wherever they run.
        app.start = kubewiz::tui::screens::start::Start::new(dir.path(), &[]);
        // libvirt's test driver on a copy of the node file the kvm tests use: the
        // wizard's import and the plan's network preview read it instead of the
        // machine's own libvirt, and its URI is as long wherever the checkout is, so
        // screens cut it at the same place.
        let node = dir.path().join("libvirt-node.xml");
        std::fs::copy(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/libvirt/node.xml"
            ),
            &node,
        )
        .expect("copy the libvirt node file");
        app.libvirt_uri = format!("test://{}", node.display());
        app.resize(width, height);
        let term = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
        Harness {
            app,
            term,
            dir,
            effects: Vec::new(),
        }
    }

    /// Presses one key, then does the work the event loop would (synchronously).
    pub fn press(&mut self, code: KeyCode) {
        self.app.handle_key(KeyEvent::new(code, KeyModifiers::NONE));
        self.settle();
    }

    pub fn ctrl(&mut self, c: char) {
        self.app
            .handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL));
        self.settle();
    }

    /// Types text, one key per character.
    pub fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.press(KeyCode::Char(c));
        }
    }

    /// Presses Backspace `n` times.
    pub fn erase(&mut self, n: usize) {
        for _ in 0..n {
            self.press(KeyCode::Backspace);
        }
    }

    /// Runs the queued effects as the event loop would: Prepare (and a day-2 operation's)
    /// inline; Run is left to
    /// the tests, which feed engine events themselves, and so is the libvirt import
    /// (see [`Harness::finish_import`]), so the wait can be seen.
    pub fn settle(&mut self) {
        for effect in self.app.take_effects() {
            if let Effect::Prepare {
                spec,
                state_dir,
                libvirt_uri,
            } = effect
            {
                let result = app::prepare(&spec, &state_dir, &libvirt_uri);
                self.app.prepared(result);
            } else if let Effect::PrepareDay2 {
                operation,
                spec,
                state_dir,
                libvirt_uri,
            } = effect
            {
                let result =
                    kubewiz::tui::prepare::day2(&operation, &spec, &state_dir, &libvirt_uri);
                self.app.prepared(result);
            } else {
                self.effects.push(effect);
            }
        }
    }

    /// [`installed_homelab`] in the harness's state directory; the start screen is read
    /// again.
    pub fn installed_homelab(
        &mut self,
    ) -> (kubewiz::spec::ClusterSpec, kubewiz::state::ClusterState) {
        let installed = installed_homelab(self.dir.path());
        self.app.start = kubewiz::tui::screens::start::Start::new(self.dir.path(), &[]);
        installed
    }

    /// [`Harness::installed_homelab`], then its manage view opened from the start
    /// screen (the API's nodes it asks for left unanswered).
    pub fn manage_homelab(&mut self) -> (kubewiz::spec::ClusterSpec, kubewiz::state::ClusterState) {
        let installed = self.installed_homelab();
        self.press(KeyCode::Down);
        self.press(KeyCode::Enter);
        self.take_effects();
        installed
    }

    /// Runs the queued libvirt import as the event loop does (off the screen) and
    /// hands its result to the app; false when none was queued.
    pub fn finish_import(&mut self) -> bool {
        let Some(at) = self
            .effects
            .iter()
            .position(|e| matches!(e, Effect::ImportLibvirt { .. }))
        else {
            return false;
        };
        let Effect::ImportLibvirt { uri, network } = self.effects.remove(at) else {
            unreachable!("found above");
        };
        let result = kubewiz::kvm::import(&uri, &network).map_err(|e| e.to_string());
        self.app.imported(result);
        true
    }

    /// The screen as text, one line per row, trailing blanks cut.
    pub fn screen(&mut self) -> String {
        self.term.draw(|f| self.app.draw(f)).expect("draw");
        text(self.term.backend().buffer())
    }

    /// Takes the effects the tests look at.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// The last row: the key-hint bar.
    pub fn hint_bar(&mut self) -> String {
        self.screen().lines().last().unwrap_or("").to_owned()
    }

    /// Preview → the tree's haproxy.cfg (of presets/kvm-lab.toml, the new cluster's
    /// layout) → `z`.
    pub fn open_haproxy_full_screen(&mut self) {
        self.walk_to("Preview");
        for _ in 0..200 {
            // The viewer's title (mode, line, path) names the selected file.
            let screen = self.screen();
            if screen
                .lines()
                .any(|l| l.contains(" 0644 ") && l.contains("haproxy.cfg"))
            {
                break;
            }
            self.press(KeyCode::Down);
        }
        self.press(KeyCode::Char('z'));
        let screen = self.screen();
        assert!(
            screen.contains("haproxy-1: /etc/haproxy/haproxy.cfg"),
            "{screen}"
        );
    }

    /// Start → new cluster → … → `screen` by Next.
    pub fn walk_to(&mut self, title: &str) {
        self.press(KeyCode::Enter); // New cluster → Topology
        for _ in 0..8 {
            if self.screen().lines().next().unwrap_or("").contains(title) {
                return;
            }
            self.press(KeyCode::Char('n'));
        }
        panic!("never reached {title}:\n{}", self.screen());
    }
}

pub fn text(buf: &Buffer) -> String {
    let area = buf.area;
    let mut out = String::new();
    for y in 0..area.height {
        let mut line = String::new();
        for x in 0..area.width {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// What an install of the single-master preset as cluster homelab leaves in `state`:
/// the preset of its last run, the kept PKI and the operator's kubeconfig (one whose API
/// cannot answer).
pub fn installed_homelab(
    state: &std::path::Path,
) -> (kubewiz::spec::ClusterSpec, kubewiz::state::ClusterState) {
    let preset = concat!(env!("CARGO_MANIFEST_DIR"), "/presets/single-master.toml");
    let spec = kubewiz::spec::load_file(std::path::Path::new(preset))
        .unwrap()
        .spec;
    let cluster = kubewiz::state::ClusterState::new(state, "homelab");
    std::fs::create_dir_all(cluster.dir()).unwrap();
    std::fs::copy(preset, cluster.preset()).unwrap();
    let layout = kubewiz::spec::layout::Layout::new(&spec).unwrap();
    kubewiz::pki::load_or_create(&cluster.pki_dir(), &layout).unwrap();
    std::fs::write(cluster.admin_conf(), "apiVersion: v1\n").unwrap();
    (spec, cluster)
}

/// Masks the temporary state directory so snapshots are stable.
pub fn filters() -> Vec<(&'static str, &'static str)> {
    vec![(r"/tmp/\.tmp[A-Za-z0-9]+", "[STATE]")]
}
