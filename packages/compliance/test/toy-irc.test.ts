import { codecSuite } from '../src/index.js';
import { toyIrc } from './fixtures/toy-irc.js';
import { toyIrcSuite } from './fixtures/toy-irc-setup.js';

// The complete example codec passes the whole suite, session and translator checks included.
codecSuite(toyIrcSuite(toyIrc()));
