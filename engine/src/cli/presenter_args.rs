//! The presenter's flags of `run` and `resume`: how much of the story to tell, and
//! the pace (`--fast-until`, `--pause-before`).

use runbook_backend::TargetKind;

use crate::error::Error;
use crate::pace::{GoOn, Pace, check_step_name};
use crate::run_settings::RunSettings;
use crate::runbook::LoadedRunbook;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct PresenterArgs {
    /// Tell the story's detail too: every task started and finished, every pod
    /// created, scheduled and deleted, the cluster's system pods
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// On sim: run at full speed until step STEP starts, then at --sim-speed (skip
    /// through the setup, watch the story). STEP is a step id, or `platform/cluster`
    /// for a step of an included runbook
    #[arg(long, value_name = "STEP")]
    pub fast_until: Option<String>,
    /// Pause before step STEP starts, with virtual time standing still, until Enter
    /// (a line on stdin; when stdin is not a terminal, one line per pause, and none
    /// at its end: </dev/null does not pause). Repeatable
    #[arg(long, value_name = "STEP")]
    pub pause_before: Vec<String>,
    /// Show the board: a live full-screen view of the nodes and their pods, the
    /// pending pods and the story (space pauses virtual time, Enter ends a
    /// --pause-before pause, q stops the run, resumable). Needs a terminal; without
    /// one the run tells its story as usual
    #[arg(long)]
    pub board: bool,
    /// On sim: serve the simulated world's Kubernetes API on ADDR (e.g.
    /// 127.0.0.1:8001; port 0 picks one) while the run goes on and after it ends,
    /// until Ctrl-C; a kubeconfig for kubectl is written and its path printed
    #[arg(long, value_name = "ADDR")]
    pub serve: Option<std::net::SocketAddr>,
}

impl PresenterArgs {
    /// Checks the named steps against the runbook (exit 2 with a suggestion), before
    /// anything is written.
    pub(super) fn check_steps(&self, loaded: &LoadedRunbook) -> Result<(), Error> {
        let named = self
            .fast_until
            .iter()
            .map(|s| ("--fast-until", s))
            .chain(self.pause_before.iter().map(|s| ("--pause-before", s)));
        for (flag, step) in named {
            check_step_name(flag, step, &loaded.runbook, &loaded.display_path)
                .map_err(|e| Error::BadArgument(e.to_string()))?;
        }
        Ok(())
    }

    /// Refuses what the run's target cannot do (exit 2, before anything is written):
    /// on `aws` time is the wall clock's, so only pauses apply; `--fast-until` needs
    /// a speed to slow down to. `sim_speed_given` is whether `--sim-speed` was on this
    /// command line.
    pub(super) fn check_target(
        &self,
        settings: &RunSettings,
        sim_speed_given: bool,
    ) -> Result<(), Error> {
        if settings.target == TargetKind::Aws {
            let flag = match (&self.fast_until, sim_speed_given) {
                (Some(_), _) => Some("--fast-until"),
                (None, true) => Some("--sim-speed"),
                (None, false) => None,
            };
            if let Some(flag) = flag {
                return Err(Error::BadArgument(format!(
                    "{flag} paces the simulator's virtual time; on the aws target time is the wall clock's (--pause-before works on both targets)"
                )));
            }
        }
        if self.fast_until.is_some() && settings.sim_speed.is_none() {
            return Err(Error::BadArgument(
                "--fast-until STEP runs at full speed until STEP starts, then at --sim-speed: give --sim-speed N too".into(),
            ));
        }
        Ok(())
    }

    /// Whether this invocation shows the board: asked for, and on a terminal.
    pub(super) fn shows_board(&self) -> bool {
        self.board && crate::board::app::available()
    }

    /// The pace of this invocation, whose pauses end with a line on stdin, or with
    /// Enter on the board (which reads the keys itself).
    pub(super) fn pace(&self, settings: &RunSettings) -> Pace {
        let fast_until = self.fast_until.clone().zip(settings.sim_speed);
        let go_on = if self.shows_board() {
            GoOn::external()
        } else {
            GoOn::from_stdin()
        };
        Pace::new(fast_until, self.pause_before.clone(), go_on)
    }
}
