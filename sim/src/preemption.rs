//! kube-scheduler preemption (the `DefaultPreemption` PostFilter plugin).
//!
//! When a pod fits nowhere:
//! 1. It may not preempt if its PriorityClass says `Never`, or if it is already
//!    nominated to a node where pods it preempted are still terminating (it waits for
//!    them instead of evicting more).
//! 2. Candidate nodes are those where only resources (not the node selector or a
//!    taint) stand in the way. Like kube-scheduler, the dry run starts at a random node
//!    (from the world's seeded RNG) and stops once it has
//!    `max(10 % of nodes, 100)` candidates.
//! 3. On each node, victims are chosen minimally: remove every pod of *lower*
//!    priority; if the preemptor still does not fit, the node is no candidate;
//!    otherwise add the removed pods back one by one, most important first (higher
//!    priority, then earlier start time, then earlier creation), keeping each one
//!    that still leaves room. The rest are the victims. Pods of equal or higher
//!    priority are never victims.
//! 4. The node is picked by (no PodDisruptionBudgets are modelled): lowest
//!    highest-victim priority, then smallest sum of victim priorities, then fewest
//!    victims, then the latest start time among the highest-priority victims, then
//!    the first candidate found.
//! 5. Each victim gets the `DisruptionTarget` condition (reason
//!    `PreemptionByScheduler`), a `Preempted` event naming the preemptor by UID, and is
//!    deleted with its grace period. Lower-priority pods nominated to that node lose
//!    their nomination. The preemptor is nominated to the node and binds once the
//!    victims are gone (or earlier elsewhere, if another node frees up first).

use rand::Rng;

use crate::event::{EventKind, Preemption, TerminationReason};
use crate::pod::{ConditionType, Pod};
use crate::resources::Resources;
use crate::scheduler::nominated_reservation;
use crate::world::World;

/// A node where preemption would make room, with its victims.
pub(crate) struct Candidate {
    pub(crate) node: u32,
    /// Victims, most important first.
    pub(crate) victims: Vec<u32>,
}

/// `MoreImportantPod`: higher priority, then earlier start, then earlier admission
/// (our total-order tie-break; Kubernetes' sort is not stable).
fn more_important(a: &Pod, b: &Pod) -> std::cmp::Ordering {
    b.priority
        .cmp(&a.priority)
        .then(
            a.start_time_ms
                .unwrap_or(u64::MAX)
                .cmp(&b.start_time_ms.unwrap_or(u64::MAX)),
        )
        .then(a.seq.cmp(&b.seq))
}

impl World {
    /// True when the pod is nominated to a node that still has a lower-priority pod
    /// terminating because of preemption (`PodEligibleToPreemptOthers` is false).
    pub(crate) fn nominated_node_has_preemption_victims(&self, pod: u32) -> bool {
        let p = &self.pods[pod as usize];
        let Some(n) = p
            .nominated_node_name
            .as_ref()
            .and_then(|n| self.node_ids.get(n.as_str()))
        else {
            return false;
        };
        self.nodes[*n as usize].pods.iter().any(|&q| {
            let qp = &self.pods[q as usize];
            qp.priority < p.priority && qp.is_terminating() && qp.preempted()
        })
    }

    /// Dry-runs preemption over the cluster's nodes and picks one (steps 2-4).
    pub(crate) fn find_preemption(&mut self, c: u32, pod: u32, selector: u32) -> Option<Candidate> {
        let (req, prio, tolerates) = {
            let p = &self.pods[pod as usize];
            (p.requests, p.priority, p.tolerates_not_ready)
        };
        let mut potential = Vec::new();
        {
            let World {
                clusters, nodes, ..
            } = &mut *self;
            let cluster = &mut clusters[c as usize];
            for &n in &cluster.nodes {
                let node = &nodes[n as usize];
                if node.is_removed() || !(node.ready || tolerates) {
                    continue;
                }
                if cluster.sched.matches(selector, node) {
                    potential.push(n);
                }
            }
        }
        if potential.is_empty() {
            return None;
        }
        let total = potential.len();
        let wanted = (total * self.params.min_candidate_nodes_percentage as usize / 100)
            .max(self.params.min_candidate_nodes_absolute as usize)
            .min(total);
        let offset = self.rng.random_range(0..total as u64) as usize;
        let mut candidates: Vec<Candidate> = Vec::new();
        for i in 0..total {
            let n = potential[(offset + i) % total];
            let node = &self.nodes[n as usize];
            // Cheap test first: would removing every lower-priority pod be enough?
            let usage = node.usage_at_or_above(prio);
            let (reserved, reserved_pods) =
                nominated_reservation(node, &self.pods, prio, false, Some(pod));
            let avail = node
                .allocatable
                .saturating_minus(&usage.requests)
                .saturating_minus(&reserved);
            if !req.fits_in(&avail) || usage.pods + reserved_pods >= node.max_pods {
                continue;
            }
            if let Some(victims) = self.select_victims_on_node(n, pod, req, prio) {
                if victims.is_empty() {
                    // Room without evicting anything (a nomination was released).
                    return Some(Candidate { node: n, victims });
                }
                candidates.push(Candidate { node: n, victims });
                if candidates.len() >= wanted {
                    break;
                }
            }
        }
        let best = self.pick_one_node(&candidates)?;
        Some(candidates.swap_remove(best))
    }

    /// `SelectVictimsOnNode`: remove all lower-priority pods, then reprieve from the
    /// most important down.
    fn select_victims_on_node(
        &self,
        n: u32,
        pod: u32,
        req: Resources,
        prio: i32,
    ) -> Option<Vec<u32>> {
        let node = &self.nodes[n as usize];
        let mut lower: Vec<u32> = node
            .pods
            .iter()
            .copied()
            .filter(|&q| self.pods[q as usize].priority < prio)
            .collect();
        let mut used = node.requested;
        let mut count = node.pod_count;
        for &q in &lower {
            used -= self.pods[q as usize].requests;
            count -= 1;
        }
        let (reserved, reserved_pods) =
            nominated_reservation(node, &self.pods, prio, false, Some(pod));
        let mut avail = node
            .allocatable
            .saturating_minus(&used)
            .saturating_minus(&reserved);
        let mut slots = node.max_pods.saturating_sub(count + reserved_pods);
        if !req.fits_in(&avail) || slots == 0 {
            return None;
        }
        lower.sort_by(|&a, &b| more_important(&self.pods[a as usize], &self.pods[b as usize]));
        let mut victims = Vec::new();
        for q in lower {
            let qr = self.pods[q as usize].requests;
            let after = avail.saturating_minus(&qr);
            let still_fits = qr.fits_in(&avail) && req.fits_in(&after) && slots > 1;
            if still_fits {
                avail = after;
                slots -= 1;
            } else {
                victims.push(q);
            }
        }
        Some(victims)
    }

    /// `pickOneNodeForPreemption` without PDBs.
    fn pick_one_node(&self, candidates: &[Candidate]) -> Option<usize> {
        if candidates.is_empty() {
            return None;
        }
        let pod = |q: &u32| &self.pods[*q as usize];
        let highest = |c: &Candidate| c.victims.first().map_or(i32::MIN, |v| pod(v).priority);
        let sum = |c: &Candidate| -> i64 {
            c.victims
                .iter()
                .map(|v| i64::from(pod(v).priority) + i64::from(i32::MAX) + 1)
                .sum()
        };
        let earliest_of_highest = |c: &Candidate| -> u64 {
            let h = highest(c);
            c.victims
                .iter()
                .filter(|v| pod(v).priority == h)
                .map(|v| pod(v).start_time_ms.unwrap_or(u64::MAX))
                .min()
                .unwrap_or(u64::MAX)
        };
        let mut remaining: Vec<usize> = (0..candidates.len()).collect();
        let min_highest = remaining.iter().map(|&i| highest(&candidates[i])).min()?;
        remaining.retain(|&i| highest(&candidates[i]) == min_highest);
        let min_sum = remaining.iter().map(|&i| sum(&candidates[i])).min()?;
        remaining.retain(|&i| sum(&candidates[i]) == min_sum);
        let min_count = remaining
            .iter()
            .map(|&i| candidates[i].victims.len())
            .min()?;
        remaining.retain(|&i| candidates[i].victims.len() == min_count);
        let latest = remaining
            .iter()
            .map(|&i| earliest_of_highest(&candidates[i]))
            .max()?;
        remaining.retain(|&i| earliest_of_highest(&candidates[i]) == latest);
        remaining.first().copied()
    }

    /// `prepareCandidate` + nomination (step 5). Returns false when nothing changed
    /// (the pod is already nominated there and its victims are already going), so
    /// the caller treats the pod as waiting.
    pub(crate) fn execute_preemption(&mut self, pod: u32, candidate: Candidate) -> bool {
        let n = candidate.node;
        let node_name = self.nodes[n as usize].name.clone();
        let (preemptor_ref, preemptor_uid, preemptor_prio) = {
            let p = &self.pods[pod as usize];
            (p.pod_ref(), p.uid.clone(), p.priority)
        };
        // First every victim gets its condition and event (the scheduler patches them
        // all), then they are deleted, least important first: deleting a driver
        // cascades to its executors, which must still be recorded as preempted.
        let victims: Vec<u32> = candidate
            .victims
            .into_iter()
            .filter(|&v| !self.pods[v as usize].is_terminating())
            .collect();
        for &v in &victims {
            let now = self.now;
            let victim = &mut self.pods[v as usize];
            victim.set_condition(
                ConditionType::DisruptionTarget,
                true,
                Some("PreemptionByScheduler"),
                Some("default-scheduler: preempting to accommodate a higher priority pod".into()),
                now,
            );
            let event = EventKind::PodPreempted(Box::new(Preemption {
                pod: victim.pod_ref(),
                node: node_name.clone(),
                priority: victim.priority,
                preemptor: preemptor_ref.clone(),
                preemptor_uid: preemptor_uid.clone(),
                preemptor_priority: preemptor_prio,
                reason: "Preempted".into(),
                message: format!("Preempted by pod {preemptor_uid} on node {node_name}").into(),
            }));
            self.emit(event);
        }
        for &v in victims.iter().rev() {
            self.delete_pod(v, TerminationReason::Preempted);
        }
        if self.pods[pod as usize].deletion_timestamp_ms.is_some() {
            // The preemptor went with its victims (an executor that evicted its own
            // job's driver): there is no one left to nominate.
            return true;
        }
        let new_nomination =
            self.pods[pod as usize].nominated_node_name.as_deref() != Some(node_name.as_str());
        if victims.is_empty() && !new_nomination {
            // Nothing changed: the victims chosen are already terminating for this
            // pod (or for their own reasons) and it is already nominated here.
            return false;
        }
        // Lower-priority pods nominated to this node lose their nomination.
        let lower: Vec<u32> = self.nodes[n as usize]
            .nominated
            .iter()
            .copied()
            .filter(|&q| q != pod && self.pods[q as usize].priority < preemptor_prio)
            .collect();
        for q in lower {
            self.clear_nomination(q);
            self.requeue_pod(q);
        }
        if new_nomination {
            self.clear_nomination(pod);
            self.nodes[n as usize].nominated.insert(pod);
            self.sync_slot(n);
            self.pods[pod as usize].nominated_node_name = Some(node_name.clone());
            self.pods[pod as usize].unschedulable = false;
            self.emit(EventKind::PodNominated {
                pod: preemptor_ref,
                node: node_name,
            });
        }
        true
    }

    /// Withdraws a pod's nomination, releasing the capacity it reserved.
    pub(crate) fn clear_nomination(&mut self, pod: u32) {
        let Some(name) = self.pods[pod as usize].nominated_node_name.take() else {
            return;
        };
        if let Some(&n) = self.node_ids.get(name.as_str()) {
            self.nodes[n as usize].nominated.remove(&pod);
            self.sync_slot(n);
            self.mark_node_dirty(n);
        }
    }
}
