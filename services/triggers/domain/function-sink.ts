/** The port a trigger sends through: one user event, as it came from the bus, to a function as a CloudEvent. */
import type { IncomingMessage } from "../../../platform/events/bus.js";
import type { DeliveryResult } from "./trigger.js";

export interface FunctionSink {
  /** Throws NotACloudEvent when `message` cannot be sent as a CloudEvent (checked before any filter or send). */
  validate(message: IncomingMessage): void;
  /**
   * Sends `message` to the function at `url`, once. A network error or a timeout is a retryable result, never a
   * rejection; a message that is not a CloudEvent rejects with NotACloudEvent.
   */
  deliver(url: string, message: IncomingMessage): Promise<DeliveryResult>;
}

/** The message carries no CloudEvent (no ce_ headers, or not valid ones): no attempt can send it. */
export class NotACloudEvent extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "NotACloudEvent";
  }
}
