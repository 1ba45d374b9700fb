export { type RedisCluster, type StartClusterOptions, startCluster } from "./cluster.js";
export { getFreePort } from "./free-port.js";
export { CLUSTER_SLOTS, keySlot, splitSlots } from "./key-slot.js";
export { randomPassword } from "./passwords.js";
export { runningProcessCount, stopAll } from "./processes.js";
export {
  findRedisServer,
  REDIS_INSTALL_HINT,
  type RedisServerVersion,
  redisServerVersion,
} from "./redis-binary.js";
export {
  ADMIN_USERNAME,
  type AdminCredentials,
  type RedisServer,
  type StartRedisOptions,
  startRedis,
} from "./redis-server.js";
export { countSocketWrites, type SocketWriteCounter } from "./socket-writes.js";
export { generateTlsCertificates, type TlsCertificates } from "./tls-certs.js";
