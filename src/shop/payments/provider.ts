/**
 * The payment provider simulator's state machine (docs/architecture.md §Data model (`payment`) and §Saga). Pure: no I/O,
 * no clock, no randomness — everything nondeterministic (the provider reference, whether the card is
 * declined, the time) arrives inside the command, so the same commands always give the same states.
 *
 * Event-sourced: `decide(payment, command)` answers a command with a new event to apply, a replay of
 * what is already there, a conflict, or "not found"; `evolve(payment, event)` applies one event and
 * refuses any that would leave the allowed edges. The journal stores events, so a restarted simulator
 * rebuilds exactly the states it acknowledged.
 *
 *   (none) ─authorize─► AUTHORIZED ─capture─► CAPTURED ─refund─► REFUNDED
 *   (none) ─authorize─► DECLINED      └──void──► VOIDED
 *
 * Every operation is idempotent by order id: repeating it after it took effect changes nothing and
 * answers the same. A payment is captured at most once, ever (`captures` never exceeds 1).
 */

export type PaymentState = "AUTHORIZED" | "CAPTURED" | "VOIDED" | "REFUNDED" | "DECLINED";
export type Currency = "EUR";

export interface PaymentStep {
  state: PaymentState;
  /** ISO-8601 time, as given by the command that caused the step. */
  at: string;
}

export interface Payment {
  orderId: string;
  /** Integer minor units (cents). */
  amount: number;
  currency: Currency;
  state: PaymentState;
  providerRef: string;
  captures: number;
  history: PaymentStep[];
}

export type Command =
  | {
      op: "authorize";
      orderId: string;
      amount: number;
      currency: Currency;
      /** Used only if the order has no payment yet. */
      providerRef: string;
      /** The issuer's answer for a new authorisation; ignored for a replay. */
      declined: boolean;
      at: string;
    }
  | { op: "capture" | "void" | "refund"; orderId: string; at: string };

export type Operation = Command["op"];

export type PaymentEvent =
  | {
      type: "authorized" | "declined";
      orderId: string;
      amount: number;
      currency: Currency;
      providerRef: string;
      at: string;
    }
  | { type: "captured" | "voided" | "refunded"; orderId: string; at: string };

export type Decision =
  | { kind: "apply"; event: PaymentEvent }
  | { kind: "replay"; payment: Payment }
  | { kind: "conflict"; payment: Payment; message: string }
  | { kind: "not_found"; orderId: string };

/** The transitions of an existing payment: one source state, one target state, one event each. */
export const TRANSITIONS = {
  capture: { from: "AUTHORIZED", to: "CAPTURED", event: "captured" },
  void: { from: "AUTHORIZED", to: "VOIDED", event: "voided" },
  refund: { from: "CAPTURED", to: "REFUNDED", event: "refunded" },
} as const satisfies Record<
  Exclude<Operation, "authorize">,
  { from: PaymentState; to: PaymentState; event: PaymentEvent["type"] }
>;

/** Every edge a payment may take; `null` is "no payment yet". */
export const ALLOWED_EDGES: ReadonlyArray<readonly [PaymentState | null, PaymentState]> = [
  [null, "AUTHORIZED"],
  [null, "DECLINED"],
  ...Object.values(TRANSITIONS).map((t) => [t.from, t.to] as const),
];

export class InvalidEventError extends Error {}

export function decide(payment: Payment | undefined, command: Command): Decision {
  if (command.op === "authorize") {
    if (!payment) {
      const { orderId, amount, currency, providerRef, at } = command;
      const type = command.declined ? "declined" : "authorized";
      return { kind: "apply", event: { type, orderId, amount, currency, providerRef, at } };
    }
    if (payment.amount !== command.amount || payment.currency !== command.currency) {
      return {
        kind: "conflict",
        payment,
        message:
          `order ${payment.orderId} already has a payment of ${payment.amount} ${payment.currency} ` +
          `(${payment.state}), not ${command.amount} ${command.currency}`,
      };
    }
    return { kind: "replay", payment };
  }
  if (!payment) return { kind: "not_found", orderId: command.orderId };
  const transition = TRANSITIONS[command.op];
  if (payment.state === transition.from) {
    return { kind: "apply", event: { type: transition.event, orderId: command.orderId, at: command.at } };
  }
  if (payment.state === transition.to) return { kind: "replay", payment };
  return {
    kind: "conflict",
    payment,
    message: `cannot ${command.op} order ${payment.orderId}: payment is ${payment.state}`,
  };
}

/** Applies one event; refuses any event that is not on an allowed edge. */
export function evolve(payment: Payment | undefined, event: PaymentEvent): Payment {
  if (event.type === "authorized" || event.type === "declined") {
    if (payment) {
      throw new InvalidEventError(`${event.type} for order ${event.orderId}, which already has a payment`);
    }
    const state = event.type === "authorized" ? "AUTHORIZED" : "DECLINED";
    const { orderId, amount, currency, providerRef, at } = event;
    if (!Number.isSafeInteger(amount) || amount <= 0) {
      throw new InvalidEventError(`${event.type} for order ${orderId} with amount ${amount}`);
    }
    return { orderId, amount, currency, state, providerRef, captures: 0, history: [{ state, at }] };
  }
  const transition = Object.values(TRANSITIONS).find((t) => t.event === event.type);
  if (!transition) throw new InvalidEventError(`unknown event type ${(event as { type: string }).type}`);
  if (!payment) throw new InvalidEventError(`${event.type} for order ${event.orderId}, which has no payment`);
  if (payment.state !== transition.from) {
    throw new InvalidEventError(
      `${event.type} for order ${event.orderId}, whose payment is ${payment.state}`,
    );
  }
  const captures = payment.captures + (transition.to === "CAPTURED" ? 1 : 0);
  if (captures > 1) throw new InvalidEventError(`second capture for order ${event.orderId}`);
  return {
    ...payment,
    state: transition.to,
    captures,
    history: [...payment.history, { state: transition.to, at: event.at }],
  };
}

/** Outcome of one command against the book. */
export type Outcome =
  | { kind: "applied"; payment: Payment }
  | Extract<Decision, { kind: "replay" | "conflict" | "not_found" }>;

/** Every payment by order id, changed only by `apply`. */
export class PaymentBook {
  private readonly payments = new Map<string, Payment>();

  get(orderId: string): Payment | undefined {
    return this.payments.get(orderId);
  }

  all(): Payment[] {
    return [...this.payments.values()];
  }

  get size(): number {
    return this.payments.size;
  }

  decide(command: Command): Decision {
    return decide(this.payments.get(command.orderId), command);
  }

  apply(event: PaymentEvent): Payment {
    const next = evolve(this.payments.get(event.orderId), event);
    this.payments.set(event.orderId, next);
    return next;
  }

  /** Decide and apply at once: for callers with nothing to persist in between (tests, in-memory use). */
  execute(command: Command): Outcome {
    const decision = this.decide(command);
    if (decision.kind !== "apply") return decision;
    return { kind: "applied", payment: this.apply(decision.event) };
  }
}
