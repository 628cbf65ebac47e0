package rabbitmqtest

import (
	"os"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestAccountsAreIsolated(t *testing.T) {
	b := Shared(t)
	a1, a2 := b.NewAccount(t), b.NewAccount(t)
	require.NotEqual(t, a1.Vhost, a2.Vhost)

	conn, err := amqp.Dial(a1.URL())
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	_, err = ch.QueueDeclare("only-in-a1", false, false, false, false, nil)
	require.NoError(t, err)

	// a1's user has no access to a2's vhost, and a wrong password is refused.
	_, err = amqp.Dial(strings.Replace(a2.URL(), a2.User, a1.User, 1))
	require.Error(t, err)
	bad := a1
	bad.Password = "wrong"
	_, err = amqp.Dial(bad.URL())
	var amqpErr *amqp.Error
	require.ErrorAs(t, err, &amqpErr)
	assert.Equal(t, amqp.AccessRefused, amqpErr.Code)

	out, err := b.Ctl("list_queues", "-p", a1.Vhost, "name")
	require.NoError(t, err)
	assert.Contains(t, out, "only-in-a1")
	out, err = b.Ctl("list_queues", "-p", a2.Vhost, "name")
	require.NoError(t, err)
	assert.NotContains(t, out, "only-in-a1")
}

// A stopped broker refuses connections; started again it has kept its
// users, durable queues and persistent messages.
func TestStopAndRestartKeepDurableState(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a broker of its own")
	}
	b, err := Start()
	if err != nil {
		Unavailable(t, err)
	}
	defer b.Close()
	a := b.NewAccount(t)
	conn, err := amqp.Dial(a.URL())
	require.NoError(t, err)
	ch, err := conn.Channel()
	require.NoError(t, err)
	_, err = ch.QueueDeclare("durable", true, false, false, false, nil)
	require.NoError(t, err)
	require.NoError(t, ch.Publish("", "durable", false, false, amqp.Publishing{DeliveryMode: amqp.Persistent, Body: []byte("kept")}))
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))

	require.NoError(t, b.Stop())
	select {
	case reason := <-closed:
		assert.Error(t, reason, "the broker closed the connection, not the client")
	case <-time.After(time.Minute):
		t.Fatal("the client was not disconnected by the stop")
	}
	_, err = amqp.Dial(a.URL())
	require.Error(t, err, "a stopped broker accepted a connection")

	require.NoError(t, b.Restart())
	conn, err = amqp.Dial(a.URL())
	require.NoError(t, err)
	defer conn.Close()
	ch, err = conn.Channel()
	require.NoError(t, err)
	msg, ok, err := ch.Get("durable", true)
	require.NoError(t, err)
	require.True(t, ok, "the persistent message was lost")
	assert.Equal(t, "kept", string(msg.Body))
}

func TestPasswordHashFormat(t *testing.T) {
	h := passwordHash("secret")
	assert.Len(t, h, 48, "base64 of 4 salt bytes and a 32-byte SHA-256")
	assert.NotEqual(t, h, passwordHash("secret"), "salted")
}
