//! The kubelet and the node lifecycle: registering and readying nodes, starting bound
//! pods (pulling images once per node), graceful deletion, and removing nodes.
//!
//! Resource accounting lives here: a pod holds its requests on its node from binding
//! until it reaches Succeeded/Failed or its object is deleted. A pod deleted while
//! running holds them through its grace period, which is why a preemptor waits.

use std::collections::BTreeMap;

use crate::cluster::ClusterStatus;
use crate::event::{EventKind, TerminationReason};
use crate::instance_types::instance_type;
use crate::node::{
    LABEL_ARCH, LABEL_EKS_CAPACITY_TYPE, LABEL_EKS_NODEGROUP, LABEL_HOSTNAME, LABEL_INSTANCE_TYPE,
    LABEL_KARPENTER_CAPACITY_TYPE, LABEL_KARPENTER_NODEPOOL, LABEL_KARPENTER_PROVISIONER, LABEL_OS,
    LABEL_REGION, LABEL_ZONE, Node,
};
use crate::node_affinity::NodePlacement;
use crate::pod::{ConditionType, PodPhase, PodRole};
use crate::shared_str::SharedStr;
use crate::timer::{NodeLaunch, TimerKind};
use crate::world::{NewPod, World};

impl World {
    // ------------------------------------------------------------------ nodes

    /// A fresh node name: the private DNS name of a new instance.
    pub(crate) fn new_node_name(&mut self, region: &str) -> String {
        let domain = if region == "us-east-1" {
            "ec2.internal".to_string()
        } else {
            format!("{region}.compute.internal")
        };
        // A random free address in 192.168.0.0/16 (like a VPC subnet); if a long run
        // has used most of them, the first free one in order.
        for _ in 0..64 {
            let (a, b) = crate::ids::private_ip(&mut self.rng);
            let key = (u32::from(a) << 8) | u32::from(b);
            if self.used_ips.insert(key) {
                return format!("ip-192-168-{a}-{b}.{domain}");
            }
        }
        let key = (0u32..)
            .find(|k| !self.used_ips.contains(k))
            .expect("u32 addresses outnumber nodes");
        self.used_ips.insert(key);
        let (a, b, c) = (key >> 16, (key >> 8) & 0xff, key & 0xff);
        format!("ip-10-{a}-{b}-{c}.{domain}")
    }

    pub(crate) fn on_node_registered(&mut self, launch: NodeLaunch) {
        let c = launch.cluster;
        if self.clusters[c as usize].status != ClusterStatus::Active {
            return;
        }
        let Ok(it) = instance_type(&launch.instance_type) else {
            return;
        };
        let cluster = &self.clusters[c as usize];
        let mut labels = BTreeMap::new();
        labels.insert(LABEL_HOSTNAME.to_string(), launch.name.clone());
        labels.insert(LABEL_INSTANCE_TYPE.to_string(), it.name.to_string());
        labels.insert(LABEL_OS.to_string(), "linux".to_string());
        labels.insert(LABEL_ARCH.to_string(), "amd64".to_string());
        labels.insert(LABEL_REGION.to_string(), cluster.region.clone());
        labels.insert(LABEL_ZONE.to_string(), launch.zone.clone());
        if let Some(ng) = &launch.nodegroup {
            labels.insert(LABEL_EKS_NODEGROUP.to_string(), ng.clone());
            labels.insert(
                LABEL_EKS_CAPACITY_TYPE.to_string(),
                launch.capacity_type.eks_label().to_string(),
            );
        }
        if let Some(p) = &launch.provisioner {
            labels.insert(LABEL_KARPENTER_PROVISIONER.to_string(), p.clone());
            labels.insert(LABEL_KARPENTER_NODEPOOL.to_string(), p.clone());
            labels.insert(
                LABEL_KARPENTER_CAPACITY_TYPE.to_string(),
                launch.capacity_type.karpenter_label().to_string(),
            );
        }
        for (k, v) in &launch.extra_labels {
            labels.insert(k.clone(), v.clone());
        }
        let index = self.nodes.len() as u32;
        let allocatable = it.allocatable(
            self.params.vm_memory_overhead_permille,
            self.params.eviction_hard_memory_mib,
        );
        let node = Node {
            name: launch.name.clone().into(),
            cluster: cluster.name.clone().into(),
            instance_type: it.name.to_string().into(),
            capacity_type: launch.capacity_type,
            labels,
            capacity: it.capacity(),
            allocatable,
            max_pods: it.max_pods(),
            requested: Default::default(),
            pod_count: 0,
            ready: false,
            nodegroup: launch.nodegroup.clone(),
            provisioner: launch.provisioner.clone(),
            created_at_ms: self.now,
            ready_at_ms: None,
            removed_at_ms: None,
            empty_since_ms: None,
            pods: Default::default(),
            workload_pods: 0,
            by_priority: Default::default(),
            nominated: Default::default(),
            images: Default::default(),
            index,
            cluster_idx: c,
            slot: self.clusters[c as usize].nodes.len() as u32,
        };
        self.nodes.push(node);
        self.node_ids.insert(launch.name.clone(), index);
        self.clusters[c as usize].nodes.push(index);
        self.sync_slot(index);
        self.emit(EventKind::NodeAdded {
            cluster: self.clusters[c as usize].name.clone().into(),
            node: launch.name.clone().into(),
            instance_type: it.name.to_string().into(),
            capacity_type: launch.capacity_type,
            allocatable,
        });
        let daemonsets = self.clusters[c as usize].daemonsets.clone();
        for ds in daemonsets {
            self.create_daemonset_pod(c, index, &ds);
        }
        let delay = self.params.node_ready_ms;
        self.schedule_in(delay, TimerKind::NodeReady { node: index });
    }

    pub(crate) fn create_daemonset_pod(
        &mut self,
        c: u32,
        node: u32,
        ds: &crate::cluster::DaemonSet,
    ) {
        let node_name = self.nodes[node as usize].name.clone();
        let suffix = crate::ids::name_suffix(&mut self.rng);
        let mut labels: BTreeMap<SharedStr, SharedStr> = BTreeMap::new();
        labels.insert("k8s-app".into(), ds.name.as_str().into());
        let mut placement = NodePlacement::default();
        placement
            .selector
            .insert(LABEL_HOSTNAME.to_string(), node_name.to_string());
        let spec = NewPod {
            cluster: c,
            namespace: ds.namespace.as_str().into(),
            name: format!("{}-{suffix}", ds.name).into(),
            role: PodRole::System,
            job: None,
            executor_id: None,
            labels,
            image: ds.image.as_str().into(),
            priority_class: ds.priority_class.clone(),
            node_placement: placement,
            containers: vec![(ds.name.as_str().into(), ds.requests)],
            grace_seconds: self.params.termination_grace_period_s,
            daemonset: true,
        };
        // A DaemonSet pod can only be refused if its namespace or class was deleted;
        // the DaemonSet controller would keep retrying, which changes nothing here.
        let _ = self.admit_pod(spec);
    }

    pub(crate) fn on_node_ready(&mut self, n: u32) {
        let node = &mut self.nodes[n as usize];
        if node.is_removed() || node.ready {
            return;
        }
        node.ready = true;
        node.ready_at_ms = Some(self.now);
        let event = EventKind::NodeReady {
            cluster: node.cluster.clone(),
            node: node.name.clone(),
        };
        let nodegroup = node.nodegroup.clone();
        let is_provisioned = node.provisioner.is_some();
        let c = node.cluster_idx;
        self.emit(event);
        self.sync_slot(n);
        self.mark_node_dirty(n);
        if let Some(ng) = nodegroup {
            let all_ready = self.clusters[c as usize]
                .nodes
                .iter()
                .filter(|&&m| self.nodes[m as usize].nodegroup.as_deref() == Some(ng.as_str()))
                .all(|&m| self.nodes[m as usize].ready);
            if let Some(group) = self.clusters[c as usize].nodegroups.get_mut(&ng) {
                group.active = all_ready;
            }
        }
        if is_provisioned {
            self.on_provisioned_node_ready(c, n);
        }
    }

    /// Deletes a node: its pods go with it (their controllers recreate them elsewhere).
    pub(crate) fn remove_node(&mut self, n: u32, reason: String, pod_reason: TerminationReason) {
        if self.nodes[n as usize].is_removed() {
            return;
        }
        let bound: Vec<u32> = self.nodes[n as usize].pods.iter().copied().collect();
        for pod in bound {
            self.delete_pod(pod, pod_reason);
        }
        let nominated: Vec<u32> = self.nodes[n as usize].nominated.iter().copied().collect();
        for pod in nominated {
            self.clear_nomination(pod);
            self.requeue_pod(pod);
        }
        let node = &mut self.nodes[n as usize];
        node.removed_at_ms = Some(self.now);
        node.ready = false;
        let cluster_name = node.cluster.clone();
        let name = node.name.clone();
        let c = node.cluster_idx;
        self.clusters[c as usize].nodes.retain(|&m| m != n);
        self.rebuild_slots(c);
        self.emit(EventKind::NodeRemoved {
            cluster: cluster_name,
            node: name,
            reason: reason.into(),
        });
    }

    // ------------------------------------------------------------------ pods

    /// Binds a pod to a node and starts it: image pull if the node does not have the
    /// image yet, then container start.
    pub(crate) fn bind_pod(&mut self, pod: u32, n: u32) {
        self.dequeue_pod(pod);
        if let Some(nominated) = self.pods[pod as usize].nominated_node_name.take() {
            if let Some(&m) = self.node_ids.get(nominated.as_str()) {
                self.nodes[m as usize].nominated.remove(&pod);
                self.sync_slot(m);
                if m != n {
                    self.mark_node_dirty(m);
                }
            }
        }
        let now = self.now;
        let pull_ms = match self.pods[pod as usize].role {
            PodRole::System => self.params.system_image_pull_ms,
            PodRole::Controller => self.params.job_runner_image_pull_ms,
            PodRole::Driver | PodRole::Executor => self.params.spark_image_pull_ms,
        };
        let p = &mut self.pods[pod as usize];
        let node = &mut self.nodes[n as usize];
        node.requested += p.requests;
        node.pod_count += 1;
        node.pods.insert(pod);
        let usage = node.by_priority.entry(p.priority).or_default();
        usage.requests += p.requests;
        usage.pods += 1;
        if !p.daemonset {
            node.workload_pods += 1;
            node.empty_since_ms = None;
        }
        let image_ready = match node.images.get(p.image.as_str()) {
            Some(&ready) => ready.max(now),
            None => {
                node.images.insert(p.image.to_string(), now + pull_ms);
                now + pull_ms
            }
        };
        p.node_idx = Some(n);
        p.node_name = Some(node.name.clone());
        p.scheduled_at_ms = Some(now);
        p.start_time_ms = Some(now);
        p.unschedulable = false;
        p.provisioning = false;
        let event = EventKind::PodScheduled {
            pod: p.pod_ref(),
            node: node.name.clone(),
        };
        self.set_scheduled_condition(pod, true, None);
        self.emit(event);
        self.sync_slot(n);
        let start = image_ready + self.params.container_start_ms;
        self.schedule(start, TimerKind::PodRunning { pod });
    }

    pub(crate) fn on_pod_running(&mut self, pod: u32) {
        let now = self.now;
        let p = &mut self.pods[pod as usize];
        if p.is_deleted() || p.deletion_timestamp_ms.is_some() || p.phase != PodPhase::Pending {
            return;
        }
        let Some(node) = p.node_name.clone() else {
            return;
        };
        p.phase = PodPhase::Running;
        p.running_at_ms = Some(now);
        p.set_condition(ConditionType::Ready, true, None, None, now);
        let event = EventKind::PodStarted {
            pod: p.pod_ref(),
            node,
        };
        let role = p.role;
        self.emit(event);
        match role {
            PodRole::Controller => self.on_controller_running(pod),
            PodRole::Driver => self.on_driver_running(pod),
            PodRole::Executor => self.on_executor_running(pod),
            PodRole::System => {}
        }
    }

    /// Deletes a pod the way the API server and kubelet do: an unbound or finished pod
    /// goes at once; a pod whose containers run gets its grace period (or the short
    /// shutdown time when its process has already been told to stop); a pod on a node
    /// that is being removed goes with the node.
    pub(crate) fn delete_pod(&mut self, pod: u32, reason: TerminationReason) {
        let p = &self.pods[pod as usize];
        if p.is_deleted() || p.deletion_timestamp_ms.is_some() {
            return;
        }
        let immediate = p.node_idx.is_none()
            || p.phase.is_terminal()
            || matches!(
                reason,
                TerminationReason::NodeRemoved | TerminationReason::ClusterDeleted
            );
        let grace_ms =
            if p.phase == PodPhase::Running && reason != TerminationReason::ApplicationFinished {
                p.termination_grace_period_seconds * 1000
            } else {
                self.params.pod_shutdown_ms
            };
        let grace_seconds = p.termination_grace_period_seconds;
        let node = p.node_name.clone();
        let now = self.now;
        {
            let p = &mut self.pods[pod as usize];
            p.deletion_timestamp_ms = Some(now);
            p.deletion_reason = Some(reason);
            p.killed = reason != TerminationReason::ApplicationFinished;
        }
        if !immediate {
            self.emit(EventKind::PodTerminating {
                pod: self.pods[pod as usize].pod_ref(),
                node,
                grace_period_seconds: grace_seconds,
                reason,
            });
        }
        if self.pods[pod as usize].node_idx.is_none() {
            self.dequeue_pod(pod);
            self.clear_nomination(pod);
        }
        self.on_pod_terminating(pod, reason);
        if immediate {
            self.finalize_deletion(pod);
        } else {
            self.schedule_in(grace_ms, TimerKind::PodGone { pod });
        }
    }

    pub(crate) fn on_pod_gone(&mut self, pod: u32) {
        if self.pods[pod as usize].is_deleted() {
            return;
        }
        self.finalize_deletion(pod);
    }

    fn finalize_deletion(&mut self, pod: u32) {
        if self.pods[pod as usize].holds_resources() {
            self.release_resources(pod);
        }
        let now = self.now;
        let p = &mut self.pods[pod as usize];
        // A running pod's containers end with it; a pod that never ran just goes away
        // (Kubernetes never gives it a terminal phase).
        if p.phase == PodPhase::Running {
            p.phase = if p.killed {
                PodPhase::Failed
            } else {
                PodPhase::Succeeded
            };
            p.finished_at_ms = Some(now);
        }
        p.deleted_at_ms = Some(now);
        let event = EventKind::PodDeleted {
            pod: p.pod_ref(),
            node: p.node_name.clone(),
            reason: p.deletion_reason,
        };
        self.emit(event);
        self.on_pod_deleted(pod);
    }

    /// Ends a running pod's containers (Succeeded or Failed); the object stays.
    pub(crate) fn finish_pod(&mut self, pod: u32, success: bool, reason: &str) {
        let p = &self.pods[pod as usize];
        if p.is_deleted() || p.deletion_timestamp_ms.is_some() || p.phase.is_terminal() {
            return;
        }
        if p.node_idx.is_none() {
            // Never scheduled: it leaves the queue.
            self.dequeue_pod(pod);
            self.clear_nomination(pod);
        }
        let p = &self.pods[pod as usize];
        if p.holds_resources() {
            self.release_resources(pod);
        }
        let now = self.now;
        let p = &mut self.pods[pod as usize];
        p.phase = if success {
            PodPhase::Succeeded
        } else {
            PodPhase::Failed
        };
        p.finished_at_ms = Some(now);
        p.set_condition(ConditionType::Ready, false, Some("PodCompleted"), None, now);
        let pod_ref = p.pod_ref();
        let node = p.node_name.clone();
        if success {
            self.emit(EventKind::PodSucceeded {
                pod: pod_ref,
                node: node.unwrap_or_default(),
            });
        } else {
            self.emit(EventKind::PodFailed {
                pod: pod_ref,
                node,
                reason: reason.to_string().into(),
            });
        }
    }

    fn release_resources(&mut self, pod: u32) {
        let p = &self.pods[pod as usize];
        let Some(n) = p.node_idx else {
            return;
        };
        let (req, prio, daemonset) = (p.requests, p.priority, p.daemonset);
        let node = &mut self.nodes[n as usize];
        if !node.pods.remove(&pod) {
            return;
        }
        node.requested -= req;
        node.pod_count -= 1;
        if let Some(u) = node.by_priority.get_mut(&prio) {
            u.requests -= req;
            u.pods -= 1;
            if u.pods == 0 {
                node.by_priority.remove(&prio);
            }
        }
        if !daemonset {
            node.workload_pods -= 1;
            if node.workload_pods == 0 && node.provisioner.is_some() {
                self.pending_emptiness.insert(n);
            }
        }
        if !node.is_removed() {
            self.sync_slot(n);
            self.mark_node_dirty(n);
        }
    }
}
