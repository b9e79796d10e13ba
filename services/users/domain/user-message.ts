/** The User as the contract's message: what gRPC answers and what a user event carries. */
import type { User as UserMessage } from "../../../generated/proto/charter/users/v1/users.js";
import { etagOf, type User } from "./user.js";

export const toUserMessage = (user: User): UserMessage => ({
  id: user.id,
  name: user.name,
  email: user.email,
  etag: etagOf(user),
  createTime: user.createTime,
  updateTime: user.updateTime,
});
