// Redis Cluster key hashing: CRC16 (XMODEM) of the key, or of its {hash tag}, modulo 16384.

export const CLUSTER_SLOTS = 16384;

const TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
    table[i] = crc & 0xffff;
  }
  return table;
})();

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) ^ TABLE[((crc >> 8) ^ byte) & 0xff]!) & 0xffff;
  return crc;
}

/** The cluster slot (0..16383) of a key, honouring `{hash tags}` like Redis does. */
export function keySlot(key: string | Buffer): number {
  let bytes: Uint8Array = typeof key === "string" ? Buffer.from(key) : key;
  const open = bytes.indexOf(0x7b); // {
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1); // }
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  return crc16(bytes) % CLUSTER_SLOTS;
}

/** Slot ranges (inclusive) splitting all 16384 slots evenly over `count` masters. */
export function splitSlots(count: number): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (let i = 0; i < count; i++) {
    ranges.push([Math.floor((i * CLUSTER_SLOTS) / count), Math.floor(((i + 1) * CLUSTER_SLOTS) / count) - 1]);
  }
  return ranges;
}
