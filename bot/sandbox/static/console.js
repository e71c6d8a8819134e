// The orderdesk demo console: a Slack channel in one page, drawn from the Slack sandbox's record.
//
// Two halves. The renderer turns Block Kit and mrkdwn into DOM nodes; it never uses innerHTML, so text from
// Meta or from the bot can only ever become text. Anything it cannot draw is reported with console.error (the
// browser tests fail on those) and shown as a visible placeholder instead of vanishing. The app polls
// /console/api/state and turns clicks into POSTs that the server signs and sends to the bot as Slack would.
"use strict";

(() => {
  // ------------------------------------------------------------------ renderer: text

  const EMOJI = {
    white_check_mark: "✅", heavy_check_mark: "✔️", hourglass_flowing_sand: "⏳", hourglass: "⌛",
    repeat: "🔁", arrows_counterclockwise: "🔄", warning: "⚠️", no_entry: "⛔", no_entry_sign: "🚫",
    package: "📦", x: "❌", tada: "🎉", eyes: "👀", wave: "👋", mag: "🔍", bell: "🔔", truck: "🚚",
    moneybag: "💰", information_source: "ℹ️", rotating_light: "🚨", memo: "📝", "+1": "👍", thumbsup: "👍",
    inbox_tray: "📥", shopping_bags: "🛍️", lock: "🔒", bust_in_silhouette: "👤", link: "🔗",
    speech_balloon: "💬", receipt: "🧾", credit_card: "💳", large_green_circle: "🟢", red_circle: "🔴",
    white_circle: "⚪", clock3: "🕒", calendar: "📅", email: "📧", telephone_receiver: "📞", house: "🏠",
    pushpin: "📌", star: "⭐", fire: "🔥", sparkles: "✨", zap: "⚡", robot_face: "🤖", question: "❓",
    exclamation: "❗", heavy_plus_sign: "➕", arrow_right: "➡️", leftwards_arrow_with_hook: "↩️", sos: "🆘",
  };
  // Text-style stand-ins for machines without a colour emoji font (headless browsers, minimal desktops), which
  // would otherwise draw empty boxes.
  const PLAIN_EMOJI = {
    white_check_mark: "✔", heavy_check_mark: "✔", warning: "⚠", x: "✖", no_entry: "✖", no_entry_sign: "✖",
    repeat: "↻", arrows_counterclockwise: "⟳", hourglass_flowing_sand: "⌛", hourglass: "⌛", star: "★", sos: "SOS",
    arrow_right: "→", link: "↗", heavy_plus_sign: "+", package: "▣", information_source: "ⓘ",
  };
  const COLOUR_EMOJI = (() => {
    try {
      const canvas = document.createElement("canvas");
      canvas.width = canvas.height = 16;
      const g = canvas.getContext("2d");
      g.font = "14px sans-serif";
      g.textBaseline = "top";
      g.fillText("✅", 0, 0);
      const pixels = g.getImageData(0, 0, 16, 16).data;
      for (let i = 0; i < pixels.length; i += 4) if (pixels[i] !== pixels[i + 1] || pixels[i + 1] !== pixels[i + 2]) return true;
      return false;
    } catch (error) {
      return true;
    }
  })();
  const emojiFor = (name) => (COLOUR_EMOJI ? EMOJI[name] : PLAIN_EMOJI[name] || EMOJI[name]);
  const INLINE = new RegExp(
    [
      "<([^<>\\n]+)>", // 1: control sequence: mention, channel, date, link
      "`([^`\\n]+)`", // 2: code
      "(?<![\\w*])\\*(?=\\S)([^*\\n]*?[^\\s*]|[^\\s*])\\*(?![\\w*])", // 3: bold
      "(?<![\\w_])_(?=\\S)([^_\\n]*?[^\\s_]|[^\\s_])_(?![\\w_])", // 4: italic
      "(?<![\\w~])~(?=\\S)([^~\\n]*?[^\\s~]|[^\\s~])~(?![\\w~])", // 5: strike
      ":([a-z0-9_+'-]+):", // 6: emoji
    ].join("|"),
    "g",
  );
  const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December"];
  const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  // Slack escapes exactly three characters in mrkdwn; decoding them once shows what the sender meant.
  function decode(text) {
    return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  }

  function emojify(text) {
    return text.replace(/:([a-z0-9_+'-]+):/g, (whole, name) => emojiFor(name) || whole);
  }

  function ordinal(n) {
    const tens = n % 100;
    if (tens >= 11 && tens <= 13) return `${n}th`;
    return n + ({ 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th");
  }

  function sameDay(a, b) {
    return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
  }

  function ago(seconds) {
    const past = seconds >= 0;
    const s = Math.abs(seconds);
    const [n, unit] = s < 60 ? [0, "just now"] : s < 3600 ? [Math.round(s / 60), "minute"]
      : s < 86400 ? [Math.round(s / 3600), "hour"] : [Math.round(s / 86400), "day"];
    if (!n) return "just now";
    const phrase = `${n} ${unit}${n === 1 ? "" : "s"}`;
    return past ? `${phrase} ago` : `in ${phrase}`;
  }

  // <!date^unix^format|fallback>: every reader sees their own time zone, as in Slack.
  function formatDate(unix, format) {
    const date = new Date(unix * 1000);
    const now = new Date();
    const time = date.toLocaleTimeString("en-US", { hour: "numeric", minute: "2-digit" });
    const long = `${DAYS[date.getDay()]}, ${MONTHS[date.getMonth()]} ${ordinal(date.getDate())}, ${date.getFullYear()}`;
    const plain = `${MONTHS[date.getMonth()]} ${ordinal(date.getDate())}, ${date.getFullYear()}`;
    const short = `${MONTHS[date.getMonth()].slice(0, 3)} ${date.getDate()}, ${date.getFullYear()}`;
    const pretty = (fallback) => {
      for (const [offset, word] of [[0, "Today"], [-1, "Yesterday"], [1, "Tomorrow"]]) {
        const day = new Date(now);
        day.setDate(now.getDate() + offset);
        if (sameDay(date, day)) return word;
      }
      return fallback;
    };
    const tokens = {
      date_num: `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, "0")}-${String(date.getDate()).padStart(2, "0")}`,
      date: plain,
      date_short: short,
      date_long: long,
      date_pretty: pretty(plain),
      date_short_pretty: pretty(short),
      date_long_pretty: pretty(long),
      time,
      time_secs: date.toLocaleTimeString("en-US", { hour: "numeric", minute: "2-digit", second: "2-digit" }),
      ago: ago(now.getTime() / 1000 - unix),
    };
    let unknown = null;
    const text = format.replace(/\{([a-z_]+)\}/g, (whole, name) => {
      if (!(name in tokens)) unknown = name;
      return tokens[name] || whole;
    });
    return { text, unknown };
  }

  function control(body, ctx) {
    const bar = body.indexOf("|");
    const target = bar === -1 ? body : body.slice(0, bar);
    const label = bar === -1 ? null : body.slice(bar + 1);
    if (target.startsWith("@")) {
      const user = (ctx.users || {})[target.slice(1)];
      return el("span", "mention", "@" + (user ? user.name : label || target.slice(1)));
    }
    if (target.startsWith("#")) return el("span", "mention channel-mention", "#" + (label || target.slice(1)));
    if (target.startsWith("!")) {
      const parts = target.slice(1).split("^");
      if (parts[0] === "date") {
        const unix = Number(parts[1]);
        const fallback = label === null ? "" : decode(label);
        if (!Number.isFinite(unix) || parts.length < 3) {
          ctx.report(`malformed date <${body}>`);
          return document.createTextNode(fallback);
        }
        const { text, unknown } = formatDate(unix, decode(parts[2]));
        if (unknown) ctx.report(`unknown date token {${unknown}} in <${body}>`);
        const node = el(parts[3] ? "a" : "span", "date", unknown ? fallback : text);
        node.title = fallback || new Date(unix * 1000).toString();
        if (parts[3]) link(node, decode(parts[3]));
        return node;
      }
      if (parts[0] === "subteam") return el("span", "mention", label ? decode(label) : "@group");
      if (["here", "channel", "everyone"].includes(parts[0])) return el("span", "mention broadcast", "@" + parts[0]);
      ctx.report(`unknown special mention <${body}>`);
      return document.createTextNode(decode(label || target));
    }
    const url = decode(target);
    if (/^(https?:|mailto:)/i.test(url)) {
      const node = el("a", "link", decode(label || target));
      link(node, url);
      return node;
    }
    ctx.report(`unknown control sequence <${body}>`);
    return document.createTextNode(decode(`<${body}>`));
  }

  function link(node, url) {
    node.href = url;
    node.target = "_blank";
    node.rel = "noopener noreferrer";
  }

  function inline(text, ctx, parent) {
    let last = 0;
    for (const match of text.matchAll(INLINE)) {
      if (match.index > last) parent.append(decode(text.slice(last, match.index)));
      last = match.index + match[0].length;
      if (match[1] !== undefined) parent.append(control(match[1], ctx));
      else if (match[2] !== undefined) parent.append(el("code", "code", decode(match[2])));
      else if (match[6] !== undefined) parent.append(EMOJI[match[6]] ? el("span", "emoji", emojiFor(match[6])) : match[0]);
      else {
        const [tag, inner] = match[3] !== undefined ? ["b", match[3]] : match[4] !== undefined ? ["i", match[4]] : ["s", match[5]];
        const node = el(tag);
        inline(inner, ctx, node);
        parent.append(node);
      }
    }
    if (last < text.length) parent.append(decode(text.slice(last)));
  }

  function mrkdwn(text, ctx) {
    const root = el("span", "mrkdwn");
    if (typeof text !== "string") {
      ctx.report(`mrkdwn text must be a string, got ${typeof text}`);
      return root;
    }
    text.split(/```/).forEach((chunk, index) => {
      if (index % 2 === 1) {
        root.append(el("pre", "pre", decode(chunk.replace(/^\n/, ""))));
        return;
      }
      let quote = null;
      chunk.split("\n").forEach((line, n) => {
        const quoted = line.startsWith("&gt; ") || line === "&gt;";
        if (quoted) {
          if (!quote) root.append((quote = el("blockquote", "quote")));
          else quote.append(el("br"));
          inline(line.replace(/^&gt; ?/, ""), ctx, quote);
          return;
        }
        quote = null;
        if (n > 0) root.append(el("br"));
        inline(line, ctx, root);
      });
    });
    return root;
  }

  function textObject(object, ctx, where) {
    if (!object || typeof object.text !== "string") {
      ctx.report(`${where}: missing text object`);
      return el("span", "render-problem", `[${where}: no text]`);
    }
    if (object.type === "mrkdwn") return mrkdwn(object.text, ctx);
    if (object.type === "plain_text") return el("span", "plain", object.emoji === false ? object.text : emojify(object.text));
    ctx.report(`${where}: unknown text type ${object.type}`);
    return el("span", "render-problem", object.text);
  }

  // ------------------------------------------------------------------ renderer: blocks

  function problem(ctx, message) {
    ctx.report(message);
    return el("div", "render-problem", `⚠ cannot show this part: ${message}`);
  }

  function button(element, block, ctx) {
    const node = el("button", `btn${element.style ? " btn-" + element.style : ""}`);
    node.type = "button";
    node.append(textObject(element.text, ctx, "button"));
    node.dataset.actionId = element.action_id || "";
    if (element.url) node.append(el("span", "external", " ↗"));
    node.addEventListener("click", () => {
      if (element.url) window.open(element.url, "_blank", "noopener,noreferrer");
      const act = () => ctx.onAction({ element, block });
      if (element.confirm) confirmThen(element.confirm, ctx, act);
      else act();
    });
    return node;
  }

  function element(element, block, ctx) {
    if (!element || typeof element !== "object") return problem(ctx, "empty element");
    if (element.type === "button") return button(element, block, ctx);
    if (element.type === "image") return image(element, ctx);
    return problem(ctx, `element type ${element.type}`);
  }

  function image(object, ctx) {
    // No image is fetched from outside: the console works offline and shows the description instead.
    if (typeof object.image_url === "string" && object.image_url.startsWith("data:")) {
      const node = el("img", "image");
      node.src = object.image_url;
      node.alt = object.alt_text || "";
      return node;
    }
    if (!object.alt_text) ctx.report("image without alt_text");
    return el("span", "image-alt", `🖼 ${object.alt_text || "image"}`);
  }

  function input(block, ctx) {
    const node = el("div", "b-input");
    const label = el("label", "input-label");
    label.append(textObject(block.label, ctx, "input label"));
    if (block.optional) label.append(el("span", "optional", " (optional)"));
    node.append(label);
    const spec = block.element || {};
    if (spec.type !== "plain_text_input") {
      node.append(problem(ctx, `input element ${spec.type}`));
      return node;
    }
    const field = el(spec.multiline ? "textarea" : "input", "text-input");
    if (!spec.multiline) field.type = "text";
    field.name = `${block.block_id}/${spec.action_id}`;
    field.dataset.blockId = block.block_id || "";
    field.dataset.actionId = spec.action_id || "";
    field.dataset.optional = block.optional ? "1" : "";
    if (spec.placeholder) field.placeholder = spec.placeholder.text || "";
    if (spec.max_length) field.maxLength = spec.max_length;
    const saved = (ctx.values || {})[field.name];
    field.value = saved !== undefined ? saved : spec.initial_value || "";
    label.htmlFor = field.id = `input-${block.block_id}-${spec.action_id}`;
    node.append(field);
    const error = (ctx.errors || {})[block.block_id];
    if (error) {
      node.classList.add("has-error");
      node.append(el("div", "input-error", error));
    }
    if (block.hint) {
      const hint = el("div", "input-hint");
      hint.append(textObject(block.hint, ctx, "input hint"));
      node.append(hint);
    }
    return node;
  }

  function block(blockSpec, ctx) {
    switch (blockSpec && blockSpec.type) {
      case "header": {
        const node = el("div", "b-header");
        node.append(textObject(blockSpec.text, ctx, "header"));
        return node;
      }
      case "section": {
        const node = el("div", "b-section");
        const main = el("div", "b-section-main");
        if (blockSpec.text) main.appendChild(el("div", "b-text")).append(textObject(blockSpec.text, ctx, "section"));
        if (Array.isArray(blockSpec.fields)) {
          const fields = el("div", "b-fields");
          blockSpec.fields.forEach((f) => fields.appendChild(el("div", "b-field")).append(textObject(f, ctx, "field")));
          main.append(fields);
        }
        if (!blockSpec.text && !blockSpec.fields) ctx.report("section without text or fields");
        node.append(main);
        if (blockSpec.accessory) node.appendChild(el("div", "b-accessory")).append(element(blockSpec.accessory, blockSpec, ctx));
        return node;
      }
      case "context": {
        const node = el("div", "b-context");
        (blockSpec.elements || []).forEach((e) => {
          node.append(e.type === "image" ? image(e, ctx) : textObject(e, ctx, "context"));
        });
        return node;
      }
      case "divider":
        return el("hr", "b-divider");
      case "actions": {
        const node = el("div", "b-actions");
        (blockSpec.elements || []).forEach((e) => node.append(element(e, blockSpec, ctx)));
        return node;
      }
      case "input":
        return input(blockSpec, ctx);
      case "image": {
        const node = el("div", "b-image");
        if (blockSpec.title) node.append(textObject(blockSpec.title, ctx, "image title"));
        node.append(image(blockSpec, ctx));
        return node;
      }
      default:
        return problem(ctx, `block type ${blockSpec && blockSpec.type}`);
    }
  }

  function context(options) {
    const problems = [];
    return {
      users: {},
      errors: {},
      values: {},
      onAction: () => {},
      ...options,
      problems,
      report(message) {
        problems.push(message);
        console.error(`orderdesk console: ${message}`);
      },
    };
  }

  // Blocks (or, without blocks, the message text as mrkdwn) into one element; ctx.problems lists what failed.
  function renderMessageBody(message, ctx) {
    const body = el("div", "blocks");
    if (Array.isArray(message.blocks) && message.blocks.length) {
      message.blocks.forEach((b) => body.append(block(b, ctx)));
    } else if (message.blocks !== undefined && !Array.isArray(message.blocks)) {
      body.append(problem(ctx, "blocks is not a list"));
    } else {
      body.appendChild(el("div", "b-text")).append(mrkdwn(message.text || "", ctx));
    }
    // A file the app shared in the user's DM (an export): its name and size.
    for (const file of Array.isArray(message.files) ? message.files : []) {
      body.append(el("div", "b-file", `📎 ${file.name} (${Math.max(1, Math.round((file.size || 0) / 1024))} KiB)`));
    }
    return body;
  }

  // ------------------------------------------------------------------ confirm dialogs

  function confirmThen(spec, ctx, then) {
    const dialog = el("dialog", "confirm");
    dialog.appendChild(el("h3", "confirm-title")).append(textObject(spec.title, ctx, "confirm title"));
    dialog.appendChild(el("div", "confirm-text")).append(textObject(spec.text, ctx, "confirm text"));
    const row = el("div", "confirm-buttons");
    const deny = el("button", "btn");
    deny.append(textObject(spec.deny || { type: "plain_text", text: "Cancel" }, ctx, "confirm deny"));
    const yes = el("button", `btn btn-${spec.style || "primary"}`);
    yes.append(textObject(spec.confirm || { type: "plain_text", text: "Yes" }, ctx, "confirm"));
    deny.addEventListener("click", () => dialog.close());
    yes.addEventListener("click", () => { dialog.close(); then(); });
    dialog.addEventListener("close", () => dialog.remove());
    row.append(deny, yes);
    dialog.append(row);
    document.body.append(dialog);
    dialog.showModal();
  }

  window.OrderdeskConsole = {
    // For tests: render blocks the way the page does and return the problems met (also sent to console.error).
    render(blocks, options) {
      const ctx = context(options);
      const node = renderMessageBody({ blocks }, ctx);
      return { html: node.outerHTML, text: node.innerText, problems: ctx.problems };
    },
    renderMessageBody,
    context,
    mrkdwn,
  };

  // ------------------------------------------------------------------ the app

  const $ = (id) => document.getElementById(id);
  const app = {
    user: null,
    version: null,
    state: null,
    dismissed: new Set(), // ephemeral message_ts and modal ids closed in this browser
    modalValues: {}, // what was typed into the open modal, kept across re-renders
    modalErrors: {}, // client-side "required" errors, as Slack's client shows them
    modalKey: null,
    polling: null,
    openMenu: null, // the ts of the message whose "⋮" menu is open, kept across re-renders
    openThreads: new Set(), // ts of the messages whose replies are shown; threads start collapsed, as in Slack
    hidePoller: false, // the Graph panel leaves out the poller's reads
    awaiting: null, // what the composer just sent: its answer is scrolled into view when it is drawn
  };
  const ANSWER_WAIT_MS = 15000;

  async function call(path, body) {
    const response = await fetch(`/console/api/${path}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user: app.user, ...body }),
    });
    const answer = await response.json().catch(() => ({ ok: false, error: `HTTP ${response.status}` }));
    if (!answer.ok && answer.error) toast(answer.error);
    refresh();
    return answer;
  }

  function toast(text) {
    const node = $("toast");
    node.textContent = text;
    node.classList.remove("hidden");
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => node.classList.add("hidden"), 6000);
  }

  async function refresh() {
    const query = new URLSearchParams({ user: app.user });
    if (app.version) query.set("since", app.version);
    try {
      const response = await fetch(`/console/api/state?${query}`);
      const state = await response.json();
      if (state.unchanged || state.user !== app.user) return;
      app.version = state.version;
      app.state = state;
      render(state);
    } catch (error) {
      // The demo was stopped or is restarting: keep polling quietly, the page recovers when it is back.
    }
  }

  function avatar(user, isBot) {
    const name = (user && user.name) || "?";
    const node = el("div", `avatar ${isBot ? "avatar-bot" : "avatar-" + (name.charCodeAt(0) % 5)}`, isBot ? "od" : name[0].toUpperCase());
    node.setAttribute("aria-hidden", "true");
    return node;
  }

  function clock(ts) {
    return new Date(Number(ts) * 1000).toLocaleTimeString("en-US", { hour: "numeric", minute: "2-digit" });
  }

  function messageNode(message, state, options) {
    // Ephemeral messages come from the app (the sandbox files them under their reader).
    const isBot = options.ephemeral || Boolean(message.bot_id) || message.user === state.bot_user_id;
    const user = state.users[message.user] || { name: message.user || "unknown" };
    const ts = options.ephemeral ? message.message_ts : message.ts;
    const node = el("div", `msg${options.ephemeral ? " ephemeral" : ""}${options.compact ? " compact" : ""}`);
    node.dataset.ts = ts;
    node.dataset.kind = options.ephemeral ? "ephemeral" : options.reply ? "reply" : "message";
    node.append(options.compact ? el("div", "gutter", clock(ts)) : avatar(user, isBot));
    const content = el("div", "msg-content");
    if (options.ephemeral) {
      const note = el("div", "only-you", "Only visible to you");
      const dismiss = el("button", "link-button", "Dismiss");
      dismiss.type = "button";
      dismiss.addEventListener("click", () => { app.dismissed.add(ts); render(app.state); });
      note.append(dismiss);
      content.append(note);
    }
    if (!options.compact) {
      const head = el("div", "msg-head");
      head.append(el("span", "author", isBot ? "orderdesk" : user.real_name || user.name));
      if (isBot) head.append(el("span", "app-badge", "APP"));
      head.append(el("span", "time", clock(ts)));
      content.append(head);
    }
    const ctx = context({
      users: state.users,
      onAction: ({ element, block }) => call("action", {
        action_id: element.action_id,
        value: element.value || "",
        block_id: block.block_id || "",
        message_ts: ts,
      }),
    });
    content.append(renderMessageBody(message, ctx));
    if (message.edited) content.append(el("span", "edited", "(edited)"));
    if (message.replies && message.replies.length) content.append(thread(message, state));
    node.append(content);
    if (!options.ephemeral) node.append(messageMenu(ts));
    return node;
  }

  // Replies are folded under "N replies", as in Slack's channel view; a click shows or hides them, and the
  // choice survives the redraws that every change in the channel causes.
  function thread(message, state) {
    const count = message.replies.length;
    const open = app.openThreads.has(message.ts);
    const node = el("div", `thread${open ? " open" : ""}`);
    const toggle = el("button", "thread-count link-button", `${count} repl${count === 1 ? "y" : "ies"}`);
    toggle.type = "button";
    toggle.setAttribute("aria-expanded", String(open));
    toggle.append(el("span", "thread-last", `Last reply ${clock(message.replies[count - 1].ts)}`));
    toggle.addEventListener("click", () => {
      if (open) app.openThreads.delete(message.ts);
      else app.openThreads.add(message.ts);
      render(app.state);
    });
    node.append(toggle);
    if (open) message.replies.forEach((reply) => node.append(messageNode(reply, state, { reply: true })));
    return node;
  }

  // The "⋮" menu on a channel message, with the app's message shortcut (Slack offers none on ephemerals).
  function messageMenu(ts) {
    const wrap = el("div", "msg-actions");
    const more = el("button", "more", "⋮");
    more.type = "button";
    more.title = "More actions";
    more.setAttribute("aria-label", "More actions");
    // The list is redrawn whenever anything changes (a Graph call, a new order): an open menu stays open.
    const menu = el("div", app.openMenu === ts ? "menu" : "menu hidden");
    const item = el("button", "menu-item", "Look up order");
    item.type = "button";
    item.append(el("span", "menu-app", "orderdesk"));
    item.addEventListener("click", () => {
      closeMenus();
      call("shortcut", { message_ts: ts });
    });
    menu.append(item);
    more.addEventListener("click", (event) => {
      event.stopPropagation();
      const opening = menu.classList.contains("hidden");
      closeMenus();
      if (opening) {
        menu.classList.remove("hidden");
        app.openMenu = ts;
      }
    });
    wrap.append(more, menu);
    return wrap;
  }

  function closeMenus() {
    app.openMenu = null;
    document.querySelectorAll(".menu").forEach((m) => m.classList.add("hidden"));
  }

  function renderMessages(state) {
    const list = $("messages");
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    const items = [
      ...state.messages.map((m) => ({ ts: m.ts, message: m, ephemeral: false })),
      ...state.ephemerals.filter((e) => !app.dismissed.has(e.message_ts)).map((e) => ({ ts: e.message_ts, message: e, ephemeral: true })),
      ...(state.direct || []).filter((d) => !app.dismissed.has(d.ts)).map((d) => ({ ts: d.ts, message: d, ephemeral: true })),
    ].sort((a, b) => Number(a.ts) - Number(b.ts));
    const nodes = [intro(state)];
    let previous = null;
    for (const item of items) {
      const compact = previous && !item.ephemeral && !previous.ephemeral && previous.message.user === item.message.user
        && Number(item.ts) - Number(previous.ts) < 300 && !previous.message.replies;
      nodes.push(messageNode(item.message, state, { ephemeral: item.ephemeral, compact }));
      previous = item;
    }
    list.replaceChildren(...nodes);
    if (atBottom) list.scrollTop = list.scrollHeight;
    showAnswer(list, nodes);
  }

  // After the composer sends, Slack brings its answer into view wherever the channel was scrolled: the first new
  // message the sender can see (an ephemeral answer for a command, the message itself otherwise), its top
  // edge first when it is taller than the channel.
  function showAnswer(list, nodes) {
    const awaiting = app.awaiting;
    if (!awaiting) return;
    if (Date.now() > awaiting.until) {
      app.awaiting = null;
      return;
    }
    const answer = nodes.find((node) => node.dataset.kind === awaiting.kind && !awaiting.seen.has(node.dataset.ts));
    if (!answer) return;
    app.awaiting = null;
    answer.scrollIntoView({ block: answer.offsetHeight > list.clientHeight ? "start" : "end" });
  }

  function expectAnswer(text) {
    const seen = new Set([...document.querySelectorAll("#messages .msg[data-ts]")].map((node) => node.dataset.ts));
    app.awaiting = { kind: text.startsWith("/") ? "ephemeral" : "message", seen, until: Date.now() + ANSWER_WAIT_MS };
    const list = $("messages");
    list.scrollTop = list.scrollHeight;
  }

  function intro(state) {
    const node = el("div", "intro");
    node.append(el("h2", "intro-title", `This is the very beginning of #${state.channel.name}`));
    const tips = el("div", "intro-text");
    tips.append(mrkdwn((state.tips || []).join("\n"), context({ users: state.users })));
    node.append(tips);
    return node;
  }

  function plural(n, word) {
    return `${n} ${word}${n === 1 ? "" : "s"}`;
  }

  // Running totals of everything the Graph sandbox received since the demo started (the list shows the latest).
  function renderTotals(totals) {
    const rows = [
      ["requests", plural(totals.requests, "request")],
      ["reads", `${plural(totals.reads, "read")} (${totals.poller_reads} by the poller)`],
      ["writes", plural(totals.writes, "write")],
      ["errors", plural(totals.errors, "error")],
    ];
    $("graph-totals").replaceChildren(...rows.map(([kind, text]) => {
      const node = el("span", `total total-${kind}`, text);
      node.dataset.kind = kind;
      node.dataset.count = String(totals[kind]);
      return node;
    }));
    $("ack-count").textContent = plural(totals.acknowledgements, "acknowledgement request");
  }

  function renderGraph(state) {
    renderTotals(state.graph_totals);
    const calls = state.graph_calls.filter((c) => !(app.hidePoller && c.poller));
    const hidden = state.graph_calls.length - calls.length;
    $("graph-hidden").textContent = hidden ? `${plural(hidden, "poller read")} hidden` : "";
    $("graph-calls").replaceChildren(...calls.slice().reverse().map((c) => {
      const isAck = c.method === "POST" && /acknowledge_orders?$/.test(c.path);
      const node = el("li", `graph-call${isAck ? " ack" : ""}${c.poller ? " poller" : ""}${c.error ? " error" : ""}`);
      const segments = c.path.split("/").filter(Boolean);
      node.dataset.kind = c.kind;
      node.dataset.poller = String(Boolean(c.poller));
      node.dataset.method = c.method;
      node.dataset.node = segments[1] || "";
      node.dataset.edge = segments[2] || "";
      const head = el("div", "call-head");
      head.append(el("span", `verb verb-${c.method.toLowerCase()}`, c.method));
      head.append(el("span", "call-path", "/" + segments.slice(1).join("/")));
      head.append(el("span", `status status-${String(c.status)[0]}`, String(c.status)));
      node.append(head);
      const details = [];
      if (c.idempotency_key) details.push(`key ${c.idempotency_key.slice(0, 8)}…`);
      if (c.params && c.params.merchant_order_reference) details.push(`ref ${c.params.merchant_order_reference}`);
      if (c.params && c.params.fields) details.push(`fields ${String(c.params.fields).slice(0, 48)}${String(c.params.fields).length > 48 ? "…" : ""}`);
      if (c.faults && c.faults.length) details.push(`fault: ${c.faults.join(", ")}`);
      details.push(clock(c.ts));
      node.append(el("div", "call-details", details.join(" · ")));
      return node;
    }));
  }

  function renderModal(state) {
    const overlay = $("overlay");
    const open = state.modals.filter((m) => !app.dismissed.has(m.id));
    const modal = open[open.length - 1];
    if (!modal) {
      overlay.classList.add("hidden");
      app.modalKey = null;
      return;
    }
    const key = JSON.stringify([modal, app.modalErrors]);
    if (key === app.modalKey) return; // unchanged: keep focus and the caret where they are
    if (app.modalKey === null || JSON.parse(app.modalKey)[0].id !== modal.id) app.modalValues = {};
    app.modalKey = key;
    const box = $("modal");
    const head = el("div", "modal-head");
    head.appendChild(el("h2", "modal-title")).append(textObject(modal.title, context({}), "modal title"));
    const close = el("button", "modal-x", "✕");
    close.type = "button";
    close.setAttribute("aria-label", "Close");
    head.append(close);
    const ctx = context({ users: state.users, errors: { ...(modal.errors || {}), ...app.modalErrors }, values: app.modalValues });
    const body = el("form", "modal-body");
    body.append(renderMessageBody({ blocks: modal.blocks || [] }, ctx));
    body.addEventListener("input", (event) => { app.modalValues[event.target.name] = event.target.value; });
    const foot = el("div", "modal-foot");
    const cancel = el("button", "btn", "Cancel");
    cancel.type = "button";
    if (modal.close) cancel.replaceChildren(textObject(modal.close, ctx, "modal close"));
    foot.append(cancel);
    const dismiss = () => { app.dismissed.add(modal.id); app.modalErrors = {}; render(app.state); };
    close.addEventListener("click", dismiss);
    cancel.addEventListener("click", dismiss);
    if (modal.submit) {
      const submit = el("button", "btn btn-primary modal-submit");
      submit.type = "submit";
      submit.append(textObject(modal.submit, ctx, "modal submit"));
      foot.append(submit);
      body.addEventListener("submit", (event) => { event.preventDefault(); submitModal(modal, body); });
      submit.addEventListener("click", (event) => { event.preventDefault(); submitModal(modal, body); });
    }
    box.replaceChildren(head, body, foot);
    overlay.classList.remove("hidden");
  }

  // view_submission values in Slack's state.values shape; an empty required input is stopped here, as
  // Slack's own client does, and never reaches the app.
  function submitModal(modal, form) {
    const values = {};
    const missing = {};
    form.querySelectorAll(".text-input").forEach((field) => {
      const text = field.value;
      if (!text && !field.dataset.optional) missing[field.dataset.blockId] = "Please complete this required field.";
      (values[field.dataset.blockId] ||= {})[field.dataset.actionId] = { type: "plain_text_input", value: text || null };
    });
    app.modalErrors = missing;
    if (Object.keys(missing).length) {
      app.modalKey = null;
      renderModal(app.state);
      return;
    }
    call("submit", { view_id: modal.id, values });
  }

  function renderSidebar(state) {
    const select = $("user-switch");
    if (!select.options.length) {
      state.agents.forEach((agent) => {
        const option = el("option", "", agent.note ? `${agent.name} (${agent.note})` : agent.name);
        option.value = agent.id;
        select.append(option);
      });
    }
    select.value = state.user;
    const agent = state.agents.find((a) => a.id === state.user);
    $("user-note").textContent = agent && agent.note ? `${agent.name} is ${agent.note}.` : "";
    $("channel-name").textContent = `# ${state.channel.name}`;
    $("channel-link").textContent = `# ${state.channel.name}`;
    $("composer-input").placeholder = `Message #${state.channel.name}, or ${state.command} <order ID or reference>`;
  }

  function render(state) {
    if (!state) return;
    renderSidebar(state);
    renderMessages(state);
    renderGraph(state);
    renderModal(state);
  }

  function start() {
    const params = new URLSearchParams(location.search);
    app.user = params.get("user") || "U0AGENT1";
    $("user-switch").addEventListener("change", (event) => {
      app.user = event.target.value;
      app.version = null;
      app.modalKey = null;
      history.replaceState(null, "", `?user=${encodeURIComponent(app.user)}`);
      refresh();
    });
    const inputBox = $("composer-input");
    inputBox.addEventListener("input", () => {
      const command = app.state ? app.state.command : "/order";
      $("composer-hint").textContent = inputBox.value.startsWith("/")
        ? `${command} <order ID or merchant reference> · ${command} help · Enter sends it to orderdesk, signed like Slack`
        : "";
    });
    $("composer").addEventListener("submit", (event) => {
      event.preventDefault();
      const text = inputBox.value.trim();
      if (!text) return;
      inputBox.value = "";
      $("composer-hint").textContent = "";
      expectAnswer(text);
      call("send", { text });
    });
    $("hide-poller").addEventListener("change", (event) => {
      app.hidePoller = event.target.checked;
      render(app.state);
    });
    document.addEventListener("click", closeMenus);
    refresh();
    app.polling = setInterval(refresh, 700);
  }

  if (!new URLSearchParams(location.search).has("harness")) document.addEventListener("DOMContentLoaded", start);
})();
