// Command kube-controller-manager runs the Kubernetes controllers
// (Deployments, ReplicaSets, Jobs, garbage collection, ...) of k8s.io/kubernetes
// at the version pinned in this module, for the local test cluster.
package main

import (
	"os"
	_ "time/tzdata" // CronJob time zones

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	os.Exit(cli.Run(app.NewControllerManagerCommand()))
}
