package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/multinic/multinic/viola/testapi"
	mnnc "github.com/multinic/multinic/viola/testapi/api/v1alpha1"
)

// printNodeConfigs lists what the node agent would read in the Biz cluster,
// one object per line: name, node, labels, then each interface with the
// name the agent gives the link.
func printNodeConfigs(ctx context.Context, out io.Writer, cfg *rest.Config) error {
	scheme := runtime.NewScheme()
	if err := mnnc.AddToScheme(scheme); err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	var list mnnc.MultiNicNodeConfigList
	if err := c.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return fmt.Errorf("list MultiNicNodeConfigs: %w", err)
	}
	for _, obj := range list.Items {
		parts := make([]string, len(obj.Spec.Interfaces))
		for i, iface := range obj.Spec.Interfaces {
			id := "unset"
			if iface.ID != nil {
				id = strconv.FormatInt(*iface.ID, 10)
			}
			parts[i] = fmt.Sprintf("name=%s id=%s mac=%s address=%s cidr=%s mtu=%d", iface.Name, id, iface.MACAddress, iface.Address, iface.CIDR, iface.MTU)
		}
		fmt.Fprintf(out, "  %s node=%s instance=%s provider=%s: %s\n", obj.Name, obj.Spec.NodeName, obj.Spec.InstanceID,
			obj.Labels["multinic.io/provider-id"], strings.Join(parts, "; "))
	}
	return nil
}

// startViola serves the Viola test API on localhost, applying every node
// config into the Biz plane; it returns the endpoint and a stop function.
func startViola(bizCfg *rest.Config) (string, func(), error) {
	router, err := testapi.NewRouter(testapi.Routes{Default: &testapi.ClusterConfig{Name: "biz", Config: bizCfg}})
	if err != nil {
		return "", nil, err
	}
	handler, err := testapi.NewHandler(testapi.Options{
		Router:    router,
		Namespace: namespace,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return "", nil, err
	}
	srv := httptest.NewServer(handler)
	return srv.URL, srv.Close, nil
}

// createNamespace makes the namespace the Viola test API applies into; a
// real Biz cluster has it from the node agent's installation.
func createNamespace(ctx context.Context, cfg *rest.Config) error {
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return err
	}
	return c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}})
}
