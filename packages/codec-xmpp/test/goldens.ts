/**
 * Hand-written streams for what the capture does not hold. Every construct here is legal XML that
 * a framer and parser must get right; the comment at stream level is something RFC 6120 §11.1
 * forbids senders to write but a receiver may still see.
 */
export const HANDWRITTEN_CLIENT = [
  "<?xml version='1.0'?>",
  '<stream:stream xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams" to="localhost" version="1.0">',
  "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAGFsaWNlcHc=</auth>",
  ' ',
  "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>",
  "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>gr\u00fc\u00df \u2603</resource></bind></iq>",
  '\n\n',
  "<message to=\"bob@localhost\" type='chat' id='m1' title='a > b / c'><body>2 &lt; 3 &amp;&amp; caf\u00e9 \u{1F600} &#x1F389; &#233;</body>" +
    "<html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'><p style='font-weight:bold'>hi <em>there</em></p></body></html></message>",
  "<message to='bob@localhost'><body><![CDATA[<not> & markup]]> after</body><!-- a comment --><?pi data?></message>",
  "<x:message xmlns:x='jabber:client' to='bob@localhost' ><x:body  xml:lang = 'en' >prefixed</x:body ></x:message>",
  '<presence><show>away</show><status>out\r\nback soon</status><priority>5</priority></presence>',
  "<iq type='get' id='r1'><query xmlns='jabber:iq:roster'></query></iq>",
  '<!-- stream-level comment -->',
  '</stream:stream>',
].join('');

export const HANDWRITTEN_SERVER = [
  "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='localhost' id='s1' version='1.0' xml:lang='en'>",
  "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>",
  "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
  "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='localhost' id='s2' version='1.0'>",
  "<iq type='result' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@localhost/gr\u00fc\u00df \u2603</jid></bind></iq>",
  "<iq type='result' id='r1' to='alice@localhost/x'><query xmlns='jabber:iq:roster' ver='1'><item jid='bob@localhost' subscription='both' name='Bob &amp; co'><group>Friends</group></item></query></iq>",
  "<message from='bob@localhost/phone' to='alice@localhost/x' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>",
  "<presence from='bob@localhost/phone' to='alice@localhost/x'><show>dnd</show><idle xmlns='urn:xmpp:idle:1' since='2024-05-01T10:00:00Z'/></presence>",
  '\t',
  "<presence type='subscribe' from='carol@localhost' to='alice@localhost'><status>add me?</status><nick xmlns='http://jabber.org/protocol/nick'>Carol</nick></presence>",
  "<iq type='error' id='x1'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
  "<stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
  '</stream:stream>',
].join('');
