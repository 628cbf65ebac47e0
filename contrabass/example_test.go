package contrabass_test

import (
	"context"
	"fmt"

	"github.com/multinic/multinic/contrabass"
	"github.com/multinic/multinic/contrabass/contrabasstest"
)

// GetProvider reads a provider record; its passwords stay encrypted until
// AdminPassword (or Decrypt) is given the encrypt key.
func ExampleClient_GetProvider() {
	const key = "conbaEncrypt2025" // 16 characters: AES-128
	fake := contrabasstest.NewServer(key)
	defer fake.Close()
	fake.AddProvider("provider-1", contrabasstest.ProviderSpec{
		AdminID: "admin", AdminPassword: "s3cret", Domain: "default", KeystoneURL: "https://keystone:15000",
	})

	client, err := contrabass.NewClient(contrabass.Options{Endpoint: fake.URL})
	if err != nil {
		panic(err)
	}
	p, err := client.GetProvider(context.Background(), "provider-1")
	if err != nil {
		panic(err)
	}
	password, err := p.AdminPassword(key)
	if err != nil {
		panic(err)
	}
	fmt.Println(p.URL, p.Attributes.AdminID, p.Attributes.Domain, password, p.Attributes.AdminPw != password)
	// Output: https://keystone:15000 admin default s3cret true
}

// Decrypt reverses Contrabass's AES-CBC encryption; a wrong key is an
// error, never garbage or a panic.
func ExampleDecrypt() {
	const encrypted = "MDEyMzQ1Njc4OWFiY2RlZjCjcyScs0t56ftgsSXBCBg=" // "s3cret", as Contrabass stores it
	plain, err := contrabass.Decrypt("conbaEncrypt2025", encrypted)
	fmt.Println(plain, err)
	_, err = contrabass.Decrypt("wrongWrongWrong!", encrypted)
	fmt.Println(err != nil)
	// Output:
	// s3cret <nil>
	// true
}
