// Command vcsim serves govmomi's vSphere API simulator (the engine of VMware's own
// vcsim command, whose module the Go proxy does not serve) on a local address.
// It prints one JSON line, {"url", "thumbprint"}, once the server listens, and
// runs until SIGINT or SIGTERM. With -username and -password it accepts only that login
// (without them, any non-empty one, as vcsim does).
package main

import (
	"crypto/tls"
	"encoding/json"
	"flag"
	"log"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/vmware/govmomi/simulator"
	_ "github.com/vmware/govmomi/vapi/simulator"
)

func main() {
	listen := flag.String("l", "127.0.0.1:0", "address to listen on")
	clusters := flag.Int("cluster", 1, "clusters per datacenter")
	hosts := flag.Int("host", 1, "standalone hosts per datacenter")
	clusterHosts := flag.Int("cluster-host", 3, "hosts per cluster")
	machines := flag.Int("vm", 2, "virtual machines per host and cluster")
	datastores := flag.Int("ds", 1, "datastores")
	pools := flag.Int("pool", 1, "child resource pools per cluster")
	folders := flag.Int("folder", 0, "datacenters placed in folders")
	username := flag.String("username", "", "the only user name accepted (with -password)")
	password := flag.String("password", "", "the only password accepted (with -username)")
	flag.Parse()

	model := simulator.VPX()
	model.Cluster, model.Host, model.ClusterHost = *clusters, *hosts, *clusterHosts
	model.Machine, model.Datastore, model.Pool, model.Folder = *machines, *datastores, *pools, *folders
	if err := model.Create(); err != nil {
		log.Fatal(err)
	}
	defer model.Remove()

	model.Service.Listen = &url.URL{Host: *listen}
	if *username != "" && *password != "" {
		model.Service.Listen.User = url.UserPassword(*username, *password)
	}
	model.Service.TLS = new(tls.Config)
	model.Service.RegisterEndpoints = true
	server := model.Service.NewServer()
	defer server.Close()

	ready := map[string]string{
		"url":        server.URL.String(),
		"thumbprint": server.CertificateInfo().ThumbprintSHA1,
	}
	if err := json.NewEncoder(os.Stdout).Encode(ready); err != nil {
		log.Fatal(err)
	}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
}
