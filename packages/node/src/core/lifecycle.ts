/**
 * Every long-lived part of the node (the state store, the chain client, the libp2p host, the
 * executor's workers, each role) is started and stopped by the composition root in order:
 * started bottom-up, stopped top-down, so a part never sees one it depends on stopped.
 */
export interface Startable {
  start(): Promise<void>
  stop(): Promise<void>
}
