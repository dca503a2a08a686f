import { randomInt } from 'node:crypto';
import { definePlugin } from '@crosstalk/core';

/**
 * `/dice [N]dS`: rolls dice for a buddy who asks, on the user's behalf. The template for a plugin:
 * a name, the commands it answers, a line for `/plugins`, and `handle`, which returns the reply.
 */
export const dicePlugin = definePlugin({
  name: 'dice',
  commands: ['/dice', '/roll'],
  description: 'Rolls dice for whoever asks: /dice, /dice 2d6, /dice d20.',
  async handle(request, ctx) {
    const match = /^(\d{0,2})d(\d{1,4})$/i.exec(request.args || '1d6');
    if (!match) return { text: 'Roll like this: /dice 2d6' };
    const count = Math.min(Math.max(Number(match[1] || 1), 1), 10);
    const sides = Math.max(Number(match[2]), 2);
    const rolls = Array.from({ length: count }, () => randomInt(1, sides + 1));
    const total = rolls.reduce((sum, roll) => sum + roll, 0);
    // The gateway keeps a small store per plugin and user, with its state file.
    const last = await ctx.store.get('last');
    await ctx.store.set('last', String(total));
    const name = request.user.address.user;
    return { text: `${name} rolls ${rolls.join(' + ')} = ${total}${last ? ` (last roll: ${last})` : ''}` };
  },
});
