// Package multinic runs one pass of the multinic flow: read the provider from
// Contrabass, the VMs' ports from Neutron and their node names from Nova, build
// one NIC config per node and send the changed ones to Viola. It needs no
// Kubernetes; the operator is a thin shell around a Syncer.
package multinic
