// Package contrabass reads OpenStack provider records from Contrabass, the
// cloud platform's admin API, and decrypts the credentials they carry.
package contrabass

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Provider is the `data` object of a Contrabass provider record (SPEC §2).
type Provider struct {
	UUID string `json:"uuid"`
	// URL is the Keystone base URL; it may or may not end in /v3.
	URL        string     `json:"url"`
	Attributes Attributes `json:"attributes"`
}

// Attributes holds the provider's credentials. The password fields are still
// encrypted as Contrabass serves them; decrypt with Decrypt or AdminPassword.
type Attributes struct {
	AdminID       string   `json:"adminId"`
	AdminPw       string   `json:"adminPw"`
	Domain        string   `json:"domain"`
	PrometheusURL string   `json:"prometheusUrl,omitempty"`
	VIP           string   `json:"vIp,omitempty"`
	RabbitMQID    string   `json:"rabbitMQId,omitempty"`
	RabbitMQPw    string   `json:"rabbitMQPw,omitempty"`
	RabbitMQURLs  []string `json:"rabbitMQUrls,omitempty"`
}

// AdminPassword decrypts the Keystone admin password with the Contrabass
// encrypt key.
func (p Provider) AdminPassword(key string) (string, error) {
	if p.Attributes.AdminPw == "" {
		return "", errors.New("decrypt adminPw: provider has no adminPw")
	}
	password, err := Decrypt(key, p.Attributes.AdminPw)
	if err != nil {
		return "", fmt.Errorf("decrypt adminPw: %w", err)
	}
	if password == "" {
		return "", errors.New("decrypt adminPw: decrypted password is empty")
	}
	return password, nil
}

// envelope is the wrapper every Contrabass response uses, errors included.
type envelope struct {
	ReturnCode    returnCode `json:"returnCode"`
	ReturnMessage string     `json:"returnMessage"`
	Data          *Provider  `json:"data,omitempty"`
}

// returnCode is the envelope's status. The service sends it as a string
// ("200"); a bare number is accepted too so a serializer change on the
// Contrabass side does not break every sync.
type returnCode string

// UnmarshalJSON accepts both "200" and 200.
func (c *returnCode) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if bytes.Equal(data, []byte("null")) {
		*c = ""
		return nil
	}
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		*c = returnCode(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(data, &n); err != nil {
		return fmt.Errorf("returnCode must be a string or a number: %w", err)
	}
	*c = returnCode(n.String())
	return nil
}
