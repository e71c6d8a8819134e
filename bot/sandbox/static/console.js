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
      if (parts[0] === "subteam") {
        // Slack shows the group's current handle, whatever label the sender wrote.
        const handle = (ctx.usergroups || {})[parts[1]];
        return el("span", "mention group-mention", handle ? "@" + handle : label ? decode(label) : "@group");
      }
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
    if (CHOICE_ELEMENTS.includes(element.type)) {
      // Outside an input block a choice is an action at once, as in Slack (after its confirm dialog, if any).
      const act = (selected) => {
        const go = () => ctx.onAction({ element, block, selected });
        if (element.confirm) confirmThen(element.confirm, ctx, go);
        else go();
      };
      return field(element, block, ctx, act);
    }
    return problem(ctx, `element type ${element.type}`);
  }

  // ------------------------------------------------------------------ renderer: inputs and choices

  const CHOICE_ELEMENTS = ["static_select", "external_select", "overflow", "radio_buttons", "checkboxes"];
  const INPUT_ELEMENTS = ["plain_text_input", "number_input", ...CHOICE_ELEMENTS];
  const REQUIRED = "Please complete this required field.";

  function optionText(option, ctx) {
    return option && option.text ? textObject(option.text, ctx, "option") : el("span", "render-problem", "[option]");
  }

  function plainOption(option) {
    return option && option.text && typeof option.text.text === "string" ? option.text.text : String(option && option.value);
  }

  function optionsOf(spec) {
    const groups = Array.isArray(spec.option_groups) ? spec.option_groups : [];
    return [...(Array.isArray(spec.options) ? spec.options : []), ...groups.flatMap((g) => g.options || [])];
  }

  function initialOf(spec) {
    if (spec.type === "checkboxes") return (spec.initial_options || []).map((o) => o.value);
    if (spec.type === "external_select") return spec.initial_option || null;
    if (spec.initial_option) return spec.initial_option.value;
    return spec.initial_value !== undefined ? spec.initial_value : null;
  }

  // One interactive element as a form field. Its wrapper (.field) knows its block, action and type, and
  // fieldValue() reads what the person entered in the shape the console's API takes ("inputs"): text, an option
  // value, a list of values, or the option object an external select was served. `onChoice`, when given, is
  // called with that value as soon as the person chooses (elements outside input blocks act at once).
  function field(spec, block, ctx, onChoice) {
    const wrap = el("div", `field field-${spec.type}`);
    const name = `${block.block_id}/${spec.action_id}`;
    Object.assign(wrap.dataset, { blockId: block.block_id || "", actionId: spec.action_id || "", type: spec.type, name });
    const saved = (ctx.values || {})[name];
    const current = saved !== undefined ? saved : initialOf(spec);
    const remember = () => {
      const value = fieldValue(wrap);
      if (ctx.values) ctx.values[name] = value;
      if (onChoice) onChoice(value);
    };
    const id = `input-${block.block_id}-${spec.action_id}`;
    switch (spec.type) {
      case "plain_text_input":
      case "number_input": {
        const input = el(spec.multiline ? "textarea" : "input", `text-input${spec.type === "number_input" ? " number-input" : ""}`);
        if (!spec.multiline) input.type = "text";
        if (spec.type === "number_input") input.inputMode = spec.is_decimal_allowed ? "decimal" : "numeric";
        input.name = name;
        input.id = id;
        Object.assign(input.dataset, { blockId: block.block_id || "", actionId: spec.action_id || "" });
        if (spec.placeholder) input.placeholder = spec.placeholder.text || "";
        if (spec.max_length) input.maxLength = spec.max_length;
        input.value = current === null || current === undefined ? "" : String(current);
        input.addEventListener("input", remember);
        wrap.append(input);
        break;
      }
      case "static_select":
      case "overflow": {
        const select = el("select", `select-input${spec.type === "overflow" ? " overflow" : ""}`);
        select.name = name;
        select.id = id;
        const first = el("option", "", spec.type === "overflow" ? "⋯" : (spec.placeholder && spec.placeholder.text) || "Select an option");
        first.value = "";
        select.append(first);
        const addOption = (parent, option) => {
          const node = el("option", "", plainOption(option));
          node.value = option.value;
          parent.append(node);
        };
        (spec.options || []).forEach((option) => addOption(select, option));
        (spec.option_groups || []).forEach((group) => {
          const node = el("optgroup");
          node.label = group.label ? group.label.text : "";
          (group.options || []).forEach((option) => addOption(node, option));
          select.append(node);
        });
        if (!optionsOf(spec).length) ctx.report(`${spec.type} ${spec.action_id} has no options`);
        select.value = spec.type === "overflow" ? "" : current || "";
        select.addEventListener("change", () => {
          remember();
          if (spec.type === "overflow") select.value = "";
        });
        wrap.append(select);
        break;
      }
      case "radio_buttons":
      case "checkboxes": {
        const kind = spec.type === "checkboxes" ? "checkbox" : "radio";
        const chosen = Array.isArray(current) ? current : current ? [current] : [];
        (spec.options || []).forEach((option, n) => {
          const row = el("label", "choice");
          const box = el("input");
          box.type = kind;
          box.name = name;
          box.value = option.value;
          box.id = `${id}-${n}`;
          box.checked = chosen.includes(option.value);
          box.addEventListener("change", remember);
          const words = el("span", "choice-text");
          words.append(optionText(option, ctx));
          if (option.description) words.appendChild(el("div", "choice-description")).append(textObject(option.description, ctx, "option description"));
          row.append(box, words);
          wrap.append(row);
        });
        if (!(spec.options || []).length) ctx.report(`${spec.type} ${spec.action_id} has no options`);
        break;
      }
      case "external_select":
        externalSelect(spec, block, ctx, wrap, current, remember);
        break;
      default:
        wrap.append(problem(ctx, `input element ${spec.type}`));
    }
    return wrap;
  }

  // An external select: what is typed is sent to the app (block_suggestion, through the console) and the
  // options it answers are listed under the box; choosing one keeps that option object.
  function externalSelect(spec, block, ctx, wrap, current, remember) {
    const query = el("input", "text-input ext-query");
    query.type = "text";
    query.id = `input-${block.block_id}-${spec.action_id}`;
    query.autocomplete = "off";
    query.placeholder = (spec.placeholder && spec.placeholder.text) || "Type to search";
    const list = el("ul", "ext-options hidden");
    list.setAttribute("role", "listbox");
    const minimum = Number.isInteger(spec.min_query_length) ? spec.min_query_length : 3;
    wrap.option = current && typeof current === "object" ? current : null;
    if (wrap.option) query.value = plainOption(wrap.option);
    let timer = null;
    let asked = 0;
    const choose = (option) => {
      wrap.option = option;
      query.value = plainOption(option);
      list.classList.add("hidden");
      remember();
    };
    const show = (answer) => {
      const items = [];
      const item = (option) => {
        const node = el("li", "ext-option");
        node.setAttribute("role", "option");
        node.dataset.value = option.value;
        node.append(optionText(option, ctx));
        node.addEventListener("mousedown", (event) => { event.preventDefault(); choose(option); });
        return node;
      };
      (answer.options || []).forEach((option) => items.push(item(option)));
      (answer.option_groups || []).forEach((group) => {
        items.push(el("li", "ext-group", group.label ? group.label.text : ""));
        (group.options || []).forEach((option) => items.push(item(option)));
      });
      if (!items.length) items.push(el("li", "ext-empty", answer.ok === false ? answer.error || "No answer" : "No results"));
      list.replaceChildren(...items);
      list.classList.remove("hidden");
    };
    const suggest = () => {
      if (query.value.length < minimum) {
        list.classList.add("hidden");
        return;
      }
      const mine = ++asked;
      Promise.resolve(ctx.onSuggest({ element: spec, block, value: query.value }))
        .then((answer) => { if (mine === asked && answer) show(answer); })
        .catch(() => {});
    };
    query.addEventListener("input", () => {
      if (wrap.option && query.value !== plainOption(wrap.option)) {
        wrap.option = null;
        if (ctx.values) ctx.values[wrap.dataset.name] = null;
      }
      clearTimeout(timer);
      timer = setTimeout(suggest, 250);
    });
    query.addEventListener("focus", () => { if (minimum === 0) suggest(); });
    query.addEventListener("blur", () => setTimeout(() => list.classList.add("hidden"), 150));
    wrap.append(query, list);
  }

  function fieldValue(wrap) {
    switch (wrap.dataset.type) {
      case "plain_text_input":
      case "number_input":
        return wrap.querySelector(".text-input").value;
      case "static_select":
      case "overflow":
        return wrap.querySelector("select").value || null;
      case "radio_buttons": {
        const checked = wrap.querySelector("input:checked");
        return checked ? checked.value : null;
      }
      case "checkboxes":
        return [...wrap.querySelectorAll("input:checked")].map((box) => box.value);
      case "external_select":
        return wrap.option || null;
      default:
        return null;
    }
  }

  // What Slack's client checks before it lets a modal be submitted: required inputs, and numbers.
  function fieldProblem(wrap, spec, optional) {
    const value = fieldValue(wrap);
    const empty = value === null || value === "" || (Array.isArray(value) && !value.length);
    if (empty) return optional ? null : REQUIRED;
    if (spec.type !== "number_input") return null;
    const pattern = spec.is_decimal_allowed ? /^-?(\d+(\.\d*)?|\.\d+)$/ : /^-?\d+$/;
    if (!pattern.test(value)) return spec.is_decimal_allowed ? "Enter a number." : "Enter a whole number.";
    const number = Number(value);
    if (spec.min_value !== undefined && number < Number(spec.min_value)) return `Enter a number of at least ${spec.min_value}.`;
    if (spec.max_value !== undefined && number > Number(spec.max_value)) return `Enter a number of at most ${spec.max_value}.`;
    return null;
  }

  // {block_id: {action_id: value}} for every field under `root`, as the console's API takes them.
  function collectInputs(root) {
    const inputs = {};
    root.querySelectorAll(".field").forEach((wrap) => {
      if (wrap.dataset.type === "overflow") return;
      (inputs[wrap.dataset.blockId] ||= {})[wrap.dataset.actionId] = fieldValue(wrap);
    });
    return inputs;
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
    node.dataset.blockId = block.block_id || "";
    const label = el("label", "input-label");
    label.append(textObject(block.label, ctx, "input label"));
    if (block.optional) label.append(el("span", "optional", " (optional)"));
    node.append(label);
    const spec = block.element || {};
    if (!INPUT_ELEMENTS.includes(spec.type)) {
      node.append(problem(ctx, `input element ${spec.type}`));
      return node;
    }
    // dispatch_action: a choice (or Enter in a text input) is also a block action, as in Slack.
    const dispatch = block.dispatch_action ? (selected) => ctx.onAction({ element: spec, block, selected }) : null;
    const wrap = field(spec, block, ctx, CHOICE_ELEMENTS.includes(spec.type) ? dispatch : null);
    if (dispatch && !CHOICE_ELEMENTS.includes(spec.type)) {
      wrap.querySelector(".text-input").addEventListener("keydown", (event) => {
        if (event.key !== "Enter" || (spec.multiline && !event.metaKey && !event.ctrlKey)) return;
        event.preventDefault();
        dispatch(fieldValue(wrap));
      });
    }
    wrap.dataset.optional = block.optional ? "1" : "";
    wrap.spec = spec;
    label.htmlFor = `input-${block.block_id}-${spec.action_id}${["radio_buttons", "checkboxes"].includes(spec.type) ? "-0" : ""}`;
    node.append(wrap);
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
      usergroups: {},
      onAction: () => {},
      onSuggest: () => null,
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
    modalValues: {}, // view id → what was entered into that view, kept across re-renders and a pushed view
    pane: "channel", // what the main pane shows: the channel, or the app's Home tab
    homeKey: null,
    homeHash: null, // the hash of the Home view last drawn
    modalErrors: {}, // client-side "required" errors, as Slack's client shows them
    modalKey: null,
    modalId: null, // the view on top of the stack when the modal was last drawn
    polling: null,
    openMenu: null, // the ts of the message whose "⋮" menu is open, kept across re-renders
    openThreads: new Set(), // ts of the messages whose replies are shown; threads start collapsed, as in Slack
    hidePoller: false, // the Graph panel leaves out the poller's reads
    awaiting: null, // what the composer just sent: its answer is scrolled into view when it is drawn
  };
  const ANSWER_WAIT_MS = 15000;

  async function call(path, body, options = {}) {
    const response = await fetch(`/console/api/${path}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user: app.user, ...body }),
    });
    const answer = await response.json().catch(() => ({ ok: false, error: `HTTP ${response.status}` }));
    if (!answer.ok && answer.error && !options.quiet) toast(answer.error);
    else if (answer.warning) toast(answer.warning);
    if (!options.quiet) refresh();
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
      usergroups: state.usergroups,
      onAction: ({ element, block, selected }) => call("action", {
        action_id: element.action_id,
        value: element.value || "",
        block_id: block.block_id || "",
        message_ts: ts,
        channel: message.channel && message.channel.startsWith("D") ? message.channel : undefined,
        selected: selected === undefined ? null : selected,
      }),
      onSuggest: ({ element, block, value }) => call("suggest", {
        action_id: element.action_id, block_id: block.block_id || "", value, message_ts: ts,
      }, { quiet: true }),
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

  // The modal stack: the newest open view is on top; a pushed one has Back, which closes only it; ✕ and Cancel
  // close the whole stack (the server side is told, so the app hears view_closed when it asked to).
  function renderModal(state) {
    const overlay = $("overlay");
    const open = state.modals.filter((m) => !app.dismissed.has(m.id));
    const modal = open[open.length - 1];
    if (!modal) {
      overlay.classList.add("hidden");
      app.modalKey = null;
      app.modalId = null;
      return;
    }
    const key = JSON.stringify([modal, app.modalErrors, state.usergroups]);
    if (key === app.modalKey) return; // unchanged: keep focus and the caret where they are
    if (app.modalId !== modal.id) app.modalErrors = {}; // the client's own errors belong to the view they were for
    app.modalId = modal.id;
    app.modalKey = key;
    const box = $("modal");
    box.dataset.viewId = modal.id;
    const head = el("div", "modal-head");
    const below = open.find((m) => m.id === modal.previous_view_id);
    if (below) {
      const back = el("button", "modal-back", "‹");
      back.type = "button";
      back.setAttribute("aria-label", "Back");
      back.addEventListener("click", () => closeModal(modal, open, true));
      head.append(back);
    }
    head.appendChild(el("h2", "modal-title")).append(textObject(modal.title, context({}), "modal title"));
    const close = el("button", "modal-x", "✕");
    close.type = "button";
    close.setAttribute("aria-label", "Close");
    head.append(close);
    const body = el("form", "modal-body");
    const values = (app.modalValues[modal.id] ||= {});
    const ctx = context({
      users: state.users,
      usergroups: state.usergroups,
      errors: { ...(modal.errors || {}), ...app.modalErrors },
      values,
      onAction: ({ element, block, selected }) => call("action", {
        view_id: modal.id,
        action_id: element.action_id,
        value: element.value || "",
        block_id: block.block_id || "",
        selected: selected === undefined ? null : selected,
        inputs: collectInputs(body),
      }),
      onSuggest: ({ element, block, value }) => call("suggest", {
        view_id: modal.id, action_id: element.action_id, block_id: block.block_id || "", value,
        inputs: collectInputs(body),
      }, { quiet: true }),
    });
    body.append(renderMessageBody({ blocks: modal.blocks || [] }, ctx));
    const foot = el("div", "modal-foot");
    const cancel = el("button", "btn modal-cancel", "Cancel");
    cancel.type = "button";
    if (modal.close) cancel.replaceChildren(textObject(modal.close, ctx, "modal close"));
    foot.append(cancel);
    close.addEventListener("click", () => closeModal(modal, open, false));
    cancel.addEventListener("click", () => closeModal(modal, open, false));
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

  function closeModal(modal, open, back) {
    const closing = back ? [modal] : open.filter((m) => m.root_view_id === modal.root_view_id);
    closing.forEach((m) => app.dismissed.add(m.id)); // at once, before the server's state says so
    app.modalErrors = {};
    app.modalKey = null;
    render(app.state);
    call("close", { view_id: modal.id, back });
  }

  // view_submission: what was entered, sent as "inputs" (the console builds Slack's state.values from the view's
  // own blocks). A required input left empty or a number that is not one is stopped here, as Slack's own client
  // does, and never reaches the app.
  function submitModal(modal, form) {
    const problems = {};
    form.querySelectorAll(".b-input > .field").forEach((wrap) => {
      const problem = fieldProblem(wrap, wrap.spec || {}, Boolean(wrap.dataset.optional));
      if (problem) problems[wrap.dataset.blockId] = problem;
    });
    app.modalErrors = problems;
    if (Object.keys(problems).length) {
      app.modalKey = null;
      renderModal(app.state);
      return;
    }
    call("submit", { view_id: modal.id, inputs: collectInputs(form) });
  }

  // The app's Home tab for the person signed in: the view the app last published for them (views.publish).
  function renderHome(state) {
    const pane = $("home");
    const showing = app.pane === "home";
    $("channel-link").classList.toggle("active", !showing);
    $("home-link").classList.toggle("active", showing);
    $("messages").classList.toggle("hidden", showing);
    $("composer").classList.toggle("hidden", showing);
    pane.classList.toggle("hidden", !showing);
    $("channel-name").textContent = showing ? "orderdesk · Home" : `# ${state.channel.name}`;
    document.querySelector(".channel-topic").classList.toggle("hidden", showing);
    if (!showing) {
      app.homeKey = null;
      return;
    }
    const home = state.home;
    const key = JSON.stringify([home, state.usergroups, state.users]);
    if (key === app.homeKey) return; // unchanged: an open select or a half-typed text stays as it is
    app.homeKey = key;
    if (!home) {
      pane.replaceChildren(el("div", "home-empty", "orderdesk has not published a Home tab for you yet."));
      return;
    }
    const view = el("div", "home-view");
    view.dataset.viewId = home.id;
    // A newly published Home view shows what the app published (its initial values), not earlier clicks.
    if (app.homeHash !== home.hash) app.modalValues[home.id] = {};
    app.homeHash = home.hash;
    const values = (app.modalValues[home.id] ||= {});
    const ctx = context({
      users: state.users,
      usergroups: state.usergroups,
      values,
      onAction: ({ element, block, selected }) => call("action", {
        view_id: home.id,
        action_id: element.action_id,
        value: element.value || "",
        block_id: block.block_id || "",
        selected: selected === undefined ? null : selected,
        inputs: collectInputs(view),
      }),
      onSuggest: ({ element, block, value }) => call("suggest", {
        view_id: home.id, action_id: element.action_id, block_id: block.block_id || "", value,
        inputs: collectInputs(view),
      }, { quiet: true }),
    });
    view.append(renderMessageBody({ blocks: home.blocks || [] }, ctx));
    pane.replaceChildren(view);
  }

  function openPane(pane) {
    app.pane = pane;
    app.homeKey = null;
    render(app.state);
    if (pane === "home") call("home", {}); // Slack tells the app every time the tab is opened
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
    $("channel-link").textContent = `# ${state.channel.name}`;
    $("composer-input").placeholder = `Message #${state.channel.name}, or ${state.command} <order ID or reference>`;
  }

  function render(state) {
    if (!state) return;
    renderSidebar(state);
    renderMessages(state);
    renderHome(state);
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
      app.homeKey = null;
      if (app.pane === "home") setTimeout(() => call("home", {}), 0);
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
    $("channel-link").addEventListener("click", () => openPane("channel"));
    $("home-link").addEventListener("click", () => openPane("home"));
    refresh();
    app.polling = setInterval(refresh, 700);
  }

  if (!new URLSearchParams(location.search).has("harness")) document.addEventListener("DOMContentLoaded", start);
})();
