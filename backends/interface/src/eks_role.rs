//! The two IAM roles an EKS cluster needs, as `create-cluster` names them when it makes
//! them (the runbook gave none): one name, for the `aws` target that makes them and for
//! the plan that lists the calls.

/// One of the two roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EksRole {
    /// Assumed by EKS (`eks.amazonaws.com`) to run the control plane.
    Cluster,
    /// Assumed by the nodes' EC2 instances (`ec2.amazonaws.com`).
    Node,
}

impl EksRole {
    /// `<cluster>-eks-cluster-role` / `<cluster>-eks-node-role`; IAM allows 64
    /// characters, so a long cluster name is cut.
    pub fn name(self, cluster: &str) -> String {
        let suffix = match self {
            EksRole::Cluster => "-eks-cluster-role",
            EksRole::Node => "-eks-node-role",
        };
        let room = 64 - suffix.len();
        let cut: String = cluster.chars().take(room).collect();
        format!("{cut}{suffix}")
    }
}

#[cfg(test)]
mod tests {
    use super::EksRole;

    #[test]
    fn role_names_fit_iam_and_name_their_cluster() {
        assert_eq!(
            EksRole::Cluster.name("eks-emr-cluster"),
            "eks-emr-cluster-eks-cluster-role"
        );
        assert_eq!(
            EksRole::Node.name("eks-emr-cluster"),
            "eks-emr-cluster-eks-node-role"
        );
        let long = "c".repeat(100);
        assert_eq!(EksRole::Cluster.name(&long).len(), 64);
        assert_eq!(EksRole::Node.name(&long).len(), 64);
    }
}
