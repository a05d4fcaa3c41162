// Preloaded (`node --import`) by test/readme.test.ts: a README snippet that listens on port 3000 gets
// a free port instead (other processes may hold 3000), and prints the port it got, so the snippet
// runs byte for byte as written.
import net from 'node:net'

const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  if (args[0] === 3000 || args[0] === '3000') args[0] = 0
  else if (typeof args[0] === 'object' && args[0] !== null && Number(args[0].port) === 3000) args[0] = { ...args[0], port: 0 }
  this.once('listening', () => process.stdout.write(`SNIPPET LISTENING ${this.address().port}\n`))
  return listen.apply(this, args)
}
