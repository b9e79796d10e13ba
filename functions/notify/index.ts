/**
 * The notification function: a welcome e-mail when a user is created (USER_EVENT_TYPE_CREATED) and a notice when
 * their account changes (USER_EVENT_TYPE_UPDATED), to the address the event carries, through the SMTP server at
 * SMTP_URL (nodemailer). Deletions are ignored. Each mail's Message-ID is made from the event id, so a redelivered
 * event's mail is recognisably the same mail. The logs name the user id and the message id, never the address.
 */
import type { CloudEvent } from "cloudevents";
import type { Context } from "faas-js-runtime";
import { createTransport, type Transporter } from "nodemailer";
import { ConfigError, envReader, type LogLevel, logLevels } from "../../platform/config.js";
import { createLogger, type Logger } from "../../platform/logging.js";
import { httpError } from "../function-config.js";
import { UserEventType, userEventOf } from "../user-event.js";

export interface NotifyConfig {
  /** SMTP_URL: the mail server, smtp:// or smtps://, with its credentials if any. */
  readonly smtpUrl: string;
  /** NOTIFY_FROM: the mails' sender. */
  readonly from: string;
  readonly logLevel: LogLevel;
}

/** The notification function's configuration from the environment; throws ConfigError naming a bad variable. */
export function loadNotifyConfig(env: Readonly<Record<string, string | undefined>> = process.env): NotifyConfig {
  const e = envReader(env);
  const smtpUrl = e.optionalUrl("SMTP_URL", ["smtp:", "smtps:"]);
  if (smtpUrl === undefined) throw new ConfigError("SMTP_URL must name the mail server, e.g. smtp://127.0.0.1:2525");
  return {
    smtpUrl,
    from: e.string("NOTIFY_FROM", "Charter <no-reply@charter.invalid>"),
    logLevel: e.oneOf("LOG_LEVEL", "info", logLevels),
  };
}

interface State {
  readonly transport: Transporter;
  readonly from: string;
  readonly logger: Logger;
}
let state: State | undefined;

export function init(): void {
  const config = loadNotifyConfig();
  state = {
    transport: createTransport(config.smtpUrl),
    from: config.from,
    logger: createLogger("function-notify", config.logLevel),
  };
}

export function shutdown(): void {
  state?.transport.close();
}

/** The mail for a CREATED or UPDATED event (plain text). */
export function mailOf(type: UserEventType, name: string): { subject: string; text: string } | undefined {
  if (type === UserEventType.USER_EVENT_TYPE_CREATED) {
    return {
      subject: "Welcome to Charter",
      text: `Hello ${name},\n\nyour Charter account is ready.\n`,
    };
  }
  if (type === UserEventType.USER_EVENT_TYPE_UPDATED) {
    return {
      subject: "Your Charter account was changed",
      text: `Hello ${name},\n\nyour Charter account's details were changed. If you did not do this, tell us.\n`,
    };
  }
  return undefined;
}

export async function handle(_context: Context, event?: CloudEvent<unknown>): Promise<undefined> {
  const s = state;
  if (!s) throw httpError(503, "the notification function is not initialised");
  const userEvent = userEventOf(event);
  const user = userEvent.user;
  const mail = mailOf(userEvent.type, user?.name ?? "");
  if (mail === undefined) return undefined;
  if (!user || user.email === "") throw httpError(400, "the user event carries no user to write to");
  const messageId = `<${userEvent.eventId}@events.charter.invalid>`;
  try {
    await s.transport.sendMail({ from: s.from, to: user.email, messageId, ...mail });
  } catch (error) {
    // The SMTP error may quote the address: only its code is logged.
    const code =
      (error as { code?: unknown; responseCode?: unknown }).responseCode ?? (error as { code?: unknown }).code;
    s.logger.warn({ userId: userEvent.userId, eventId: userEvent.eventId, smtp: code }, "the mail was not sent");
    throw httpError(503, "the mail server did not take the mail");
  }
  s.logger.info({ userId: userEvent.userId, eventId: userEvent.eventId, messageId }, "mail sent");
  return undefined;
}
