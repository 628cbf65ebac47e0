package inventory_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/multinic/multinic/inventory"
	"github.com/multinic/multinic/viola"
)

// A Store keeps the latest node config per provider and node; NewHandler
// serves it read-only. Open("") keeps it in memory, a path in files (one per
// provider) written atomically.
func Example() {
	store, err := inventory.Open("")
	if err != nil {
		panic(err)
	}
	worker1 := viola.NodeConfig{NodeName: "worker-1", InstanceID: "vm-1", Interfaces: []viola.Interface{
		{ID: 0, Name: "multinic0", MACAddress: "fa:16:3e:00:00:01", Address: "10.0.0.11", CIDR: "10.0.0.0/24", MTU: 1450},
	}}
	changed, _ := store.Upsert("provider-1", worker1)
	again, _ := store.Upsert("provider-1", worker1) // identical: nothing to write
	fmt.Println("changed:", changed, "then", again)

	srv := httptest.NewServer(inventory.NewHandler(store))
	defer srv.Close()
	resp, err := http.Get(srv.URL + inventory.NodeConfigsPath + "/worker-1?providerId=provider-1")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var records []inventory.Record
	if err := json.NewDecoder(resp.Body).Decode(&records); err != nil {
		panic(err)
	}
	fmt.Println(resp.Status, records[0].NodeName, records[0].InstanceID, records[0].Config.Interfaces[0].Address)
	// Output:
	// changed: 1 then 0
	// 200 OK worker-1 vm-1 10.0.0.11
}

// List filters by any of provider, node name and instance ID.
func ExampleStore_List() {
	store, _ := inventory.Open("")
	for _, node := range []string{"worker-1", "worker-2"} {
		_, _ = store.Upsert("provider-1", viola.NodeConfig{NodeName: node, InstanceID: "vm-" + node, Interfaces: []viola.Interface{
			{ID: 0, Name: "multinic0", MACAddress: "fa:16:3e:00:00:0" + node[len(node)-1:], MTU: 1500},
		}})
	}
	for _, r := range store.List(inventory.Filter{ProviderID: "provider-1"}) {
		fmt.Println(r.NodeName, r.InstanceID)
	}
	fmt.Println(len(store.List(inventory.Filter{InstanceID: "vm-worker-2"})))
	// Output:
	// worker-1 vm-worker-1
	// worker-2 vm-worker-2
	// 1
}
