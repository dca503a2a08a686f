import { z } from 'zod';

/**
 * A G2G contact as records carry it (location and capability records): flat JSON, a transport
 * name and a few fields; the transport validates the rest when it dials.
 */
export const ContactSchema = z
  .object({ transport: z.string().min(1).max(64) })
  .catchall(z.union([z.string().max(255), z.number(), z.boolean(), z.null()]))
  .refine((body) => Object.keys(body).length <= 16, 'too many contact fields');
