// The console's words, in Chinese (the default) and English; the choice is kept in
// localStorage. t(key) falls back to the key itself, so a missing word shows, never breaks.
const WORDS = {
  zh: {
    brand: "蓝天值班台", loading: "加载中…", offline: "离线", live: "实时", logout: "退出",
    board: "告警队列", map: "地图", bureau: "统计", admin: "管理",
    username: "用户名", password: "密码", login: "登录",
    bad_login: "用户名或密码错误", too_many: "尝试次数过多，请稍后再试",
    login_failed: "登录失败",
    all: "全部", queue: "队列", state: "状态", zone: "区域", grid: "网格", day: "日期",
    kind: "类型", severity: "级别", value: "测量值 / 限值", age: "已持续", sla: "时限",
    muted: "静默", assists: "协办", overdue: "超时", escalated: "已升级",
    late_data: "数据迟到", flight: "无人机出动",
    ack_in: "确认剩余", close_in: "办结剩余", none: "无", open_alerts: "未办结",
    raised: "已发起", dispatched: "已派发", acknowledged: "已确认", verifying: "核查中",
    on_scene: "已到场", closed: "已办结", reopened: "已重开", transferred: "已转办",
    assist: "协办", silenced: "已静默", updated: "已更新", cleared: "已解除",
    evidence: "证据", commented: "备注", comment: "备注", add_comment: "添加备注",
    photos: "照片", photo: "照片",
    critical: "严重", major: "较重", warning: "一般",
    new_alert: "新告警", back: "返回队列", measured: "测量数据", limit: "限值",
    suggestion: "无人机建议", drone: "无人机", direction: "方位", distance: "距离",
    eta: "预计到达", timeline: "处置记录", who: "人员", when: "时间", what: "事项",
    actions: "操作", ack: "确认", verify: "派无人机核查", onscene: "已到场",
    assist_btn: "请求协办", transfer: "转办", close: "办结", reopen: "重开",
    outcome: "处置结果", note: "说明", resolved: "已处置", false_alarm: "误报",
    duplicate: "重复", receipt: "回执", no_actions: "当前状态无可用操作",
    refused: "未执行", done: "已完成", no_readings: "无测量数据",
    source: "数据来源", source_influxdb: "InfluxDB", source_rule_window: "规则窗口",
    influx_fallback: "InfluxDB 无数据或暂不可用",
    zones: "区域", stations: "监测点", drones: "无人机", alerts: "告警",
    since: "起", until: "止", group_by: "分组", month: "月份", show: "查询",
    count: "数量", closed_n: "已办结", open_n: "未办结", ack_median: "确认中位",
    close_median: "办结中位", close_p90: "办结P90", sla_rate: "按时率",
    line30: "30 分钟线", monthly: "月报", carried_over: "结转", within_sla: "按时办结",
    health: "运行状态", silences: "静默规则", users: "用户", author: "设置人",
    reason: "原因", starts: "开始", ends: "结束", users_managed: "用户以 lantian users 命令管理",
    display_name: "姓名", role: "角色", queues: "队列", token: "个人令牌", disabled: "已停用",
    enabled: "启用", notifications: "通知", channel: "渠道", pending: "待发",
    oldest: "最早待发", dead: "放弃", last_error: "最近错误", no_channels: "未配置通知渠道",
    yes: "有", no: "无", bureau_role: "环保局",
    minutes: "分钟", read_only: "只读", no_alerts: "暂无告警", reset: "已重新同步",
    seconds_ago: "秒前", minutes_ago: "分钟前", hours_ago: "小时前", days_ago: "天前",
    evidence_media: "证据材料", finding: "发现", confidence: "置信度",
    officer: "值班员", supervisor: "值班长", admin: "管理员",
    deadletters: "拒收消息", last_24h: "近24小时", kept: "保存", topic: "主题", code: "代码",
    no_deadletters: "无拒收消息",
  },
  en: {
    brand: "Lantian console", loading: "Loading…", offline: "offline", live: "live",
    logout: "Log out", board: "Queue", map: "Map", bureau: "Figures", admin: "Admin",
    username: "User name", password: "Password", login: "Log in",
    bad_login: "wrong user name or password", too_many: "too many attempts; try later",
    login_failed: "could not log in",
    all: "all", queue: "Queue", state: "State", zone: "Zone", grid: "Grid", day: "Day",
    kind: "Kind", severity: "Severity", value: "Value / limit", age: "Age", sla: "SLA",
    muted: "muted", assists: "assisting", overdue: "overdue", escalated: "escalated",
    late_data: "late data", flight: "drone flight",
    ack_in: "ack in", close_in: "close in", none: "none", open_alerts: "open",
    raised: "raised", dispatched: "dispatched", acknowledged: "acknowledged",
    verifying: "verifying", on_scene: "on scene", closed: "closed", reopened: "reopened",
    transferred: "transferred", assist: "assist", silenced: "silenced",
    updated: "updated", cleared: "cleared", evidence: "evidence",
    commented: "comment", comment: "Comment", add_comment: "Add comment", photos: "Photos",
    photo: "photo",
    critical: "critical", major: "major", warning: "warning",
    new_alert: "New alert", back: "Back to the queue", measured: "Readings", limit: "limit",
    suggestion: "Drone suggestion", drone: "Drone", direction: "Direction",
    distance: "Distance", eta: "ETA", timeline: "Timeline", who: "Who", when: "When",
    what: "What", actions: "Actions", ack: "Acknowledge", verify: "Send drone",
    onscene: "On scene", assist_btn: "Call in", transfer: "Transfer", close: "Close",
    reopen: "Reopen", outcome: "Outcome", note: "Note", resolved: "resolved",
    false_alarm: "false alarm", duplicate: "duplicate", receipt: "Receipt",
    no_actions: "no step applies now", refused: "Refused", done: "Done",
    no_readings: "no readings", zones: "zones", stations: "stations", drones: "drones",
    source: "source", source_influxdb: "InfluxDB", source_rule_window: "rule window",
    influx_fallback: "none from InfluxDB",
    alerts: "alerts", since: "since", until: "until", group_by: "group by",
    month: "month", show: "Show", count: "count", closed_n: "closed", open_n: "open",
    ack_median: "ack median", close_median: "close median", close_p90: "close p90",
    sla_rate: "within SLA", line30: "30-minute line", monthly: "Monthly report",
    carried_over: "carried over", within_sla: "closed within SLA", health: "Health",
    silences: "Silences", users: "Users", author: "author", reason: "reason",
    starts: "starts", ends: "ends", users_managed: "users are managed with the lantian users command",
    display_name: "name", role: "role", queues: "queues", token: "personal token",
    disabled: "disabled", enabled: "enabled", notifications: "Notifications",
    channel: "channel", pending: "pending", oldest: "oldest pending", dead: "given up",
    last_error: "last error", no_channels: "no notification channel configured",
    yes: "yes", no: "no", bureau_role: "bureau",
    minutes: "min", read_only: "read-only", no_alerts: "no alerts", reset: "resynchronised",
    seconds_ago: "s ago", minutes_ago: "min ago", hours_ago: "h ago", days_ago: "d ago",
    evidence_media: "Evidence", finding: "finding", confidence: "confidence",
    officer: "duty officer", supervisor: "supervisor", admin: "admin",
    deadletters: "Dead letters", last_24h: "last 24 h", kept: "kept", topic: "topic",
    code: "code", no_deadletters: "no dead letters",
  },
};

export function lang() {
  const chosen = localStorage.getItem("lantian.lang");
  return chosen in WORDS ? chosen : "zh";
}

export function setLang(value) {
  localStorage.setItem("lantian.lang", value in WORDS ? value : "zh");
}

export function t(key) {
  return WORDS[lang()][key] ?? WORDS.zh[key] ?? key;
}

/** Translate every [data-i18n] element under `root`, and wire the language picker. */
export function translate(root, onChange) {
  document.documentElement.lang = lang() === "zh" ? "zh-CN" : "en";
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  const picker = root.querySelector("#lang");
  if (picker) {
    picker.value = lang();
    picker.onchange = () => { setLang(picker.value); translate(root, onChange); onChange?.(); };
  }
}
