/**
 * Handler types derived from the generated OpenAPI types: each operationId's inputs (path,
 * query and header parameters, body) and its success responses (status, headers, body).
 */
import type { operations } from "../../../../generated/openapi/users.v1.js";
import type { CallContext } from "../../app/backends.js";

export type OperationId = keyof operations;

type Parameters<K extends OperationId> = operations[K]["parameters"];
type Present<T> = [T] extends [never] ? Record<string, never> : NonNullable<T>;
type BodyOf<K extends OperationId> = operations[K] extends { requestBody: { content: infer C } }
  ? C[keyof C]
  : undefined;

export interface OperationRequest<K extends OperationId> {
  readonly path: Present<Parameters<K>["path"]>;
  readonly query: Present<Parameters<K>["query"]>;
  /** Header parameters under the contract's names (e.g. "If-Match"). */
  readonly header: Present<Parameters<K>["header"]>;
  readonly body: BodyOf<K>;
  /** The request id and deadline for calls to the users service. */
  readonly context: CallContext;
}

type Responses<K extends OperationId> = operations[K]["responses"];
type SuccessStatus<K extends OperationId> = Extract<keyof Responses<K>, 200 | 201 | 202 | 204 | 304>;
type JsonOf<R> = R extends { content: { "application/json": infer B } } ? B : undefined;

export type OperationResult<K extends OperationId> = {
  [S in SuccessStatus<K>]: {
    readonly status: S;
    readonly headers?: Readonly<Record<string, string>>;
    readonly body: JsonOf<Responses<K>[S]>;
  };
}[SuccessStatus<K>];

/** Failures are thrown as AppError and become problem documents. */
export type OperationHandler<K extends OperationId> = (request: OperationRequest<K>) => Promise<OperationResult<K>>;

export type OperationHandlers = { readonly [K in OperationId]: OperationHandler<K> };

/**
 * Any handler as the route binder calls it: with inputs the contract's validators have checked,
 * which is what makes the typed handlers above safe to call this way.
 */
export type BoundHandler = (request: {
  readonly path: unknown;
  readonly query: unknown;
  readonly header: Readonly<Record<string, string>>;
  readonly body: unknown;
  readonly context: CallContext;
}) => Promise<{ readonly status: number; readonly headers?: Readonly<Record<string, string>>; readonly body: unknown }>;
