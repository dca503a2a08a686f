// A child for socket-lane.test.ts: counts the sockets it was passed, and says how many at each ping.
let sockets = 0;
process.on('message', (message, handle) => {
  if (handle) {
    sockets++;
    handle.destroy();
    return;
  }
  if (message.t === 'ping') process.send({ t: 'pong', sockets });
});
process.send({ t: 'ready' });
