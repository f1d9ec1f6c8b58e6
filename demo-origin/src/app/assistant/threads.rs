//! Conversations, in memory, per user: each user's own list, keyed by the
//! opaque part of its bound id. A user's conversations are only ever looked
//! up under that user's name, the one the gate's headers carry.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Longest message kept, in characters.
pub const MAX_MESSAGE: usize = 2000;

/// Who wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Author {
    User,
    Assistant,
}

/// One message of a conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub author: Author,
    pub text: String,
}

/// One conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thread {
    /// The origin's own key for it (the bound id's opaque part).
    pub opaque: String,
    pub messages: Vec<Message>,
}

impl Thread {
    /// Its first message, shortened, or "New conversation".
    pub fn title(&self) -> String {
        match self.messages.first() {
            Some(m) if m.text.chars().count() > 60 => {
                format!("{}…", m.text.chars().take(59).collect::<String>())
            }
            Some(m) => m.text.clone(),
            None => "New conversation".into(),
        }
    }

    /// The last message is the user's and has no reply yet.
    pub fn awaits_reply(&self) -> bool {
        self.messages
            .last()
            .is_some_and(|m| m.author == Author::User)
    }
}

/// Every user's conversations.
pub struct Threads {
    by_user: Mutex<BTreeMap<String, Vec<Thread>>>,
    /// The next opaque number: `t1056`, `t1057`, ... Guessable on purpose:
    /// the tag, not the number, is what makes an id a user's.
    next: AtomicU64,
}

impl Threads {
    /// An empty store whose first new conversation is `t<first>`.
    pub fn new(first: u64) -> Self {
        Self {
            by_user: Mutex::new(BTreeMap::new()),
            next: AtomicU64::new(first),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut BTreeMap<String, Vec<Thread>>) -> T) -> T {
        f(&mut self.by_user.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Adds a conversation for `user` with these messages (the demo's seed).
    pub fn seed(&self, user: &str, opaque: &str, messages: Vec<Message>) {
        let thread = Thread {
            opaque: opaque.into(),
            messages,
        };
        self.with(|m| m.entry(user.into()).or_default().push(thread));
    }

    /// A new, empty conversation of `user`; its opaque part.
    pub fn create(&self, user: &str) -> String {
        let opaque = format!("t{}", self.next.fetch_add(1, Ordering::SeqCst));
        self.seed(user, &opaque, Vec::new());
        opaque
    }

    /// `user`'s conversations, newest first.
    pub fn list(&self, user: &str) -> Vec<Thread> {
        self.with(|m| m.get(user).map(|t| t.iter().rev().cloned().collect()))
            .unwrap_or_default()
    }

    /// `user`'s conversation `opaque`.
    pub fn get(&self, user: &str, opaque: &str) -> Option<Thread> {
        self.with(|m| m.get(user)?.iter().find(|t| t.opaque == opaque).cloned())
    }

    /// Appends a message to `user`'s conversation `opaque`; `false` when
    /// there is no such conversation.
    pub fn push(&self, user: &str, opaque: &str, author: Author, text: String) -> bool {
        self.with(|m| {
            let Some(thread) = m
                .get_mut(user)
                .and_then(|t| t.iter_mut().find(|t| t.opaque == opaque))
            else {
                return false;
            };
            thread.messages.push(Message { author, text });
            true
        })
    }

    /// Takes the question awaiting a reply in `user`'s conversation `opaque`
    /// and records `answer(question)` as the reply, at once (a reload shows
    /// it whole); `None` when nothing awaits a reply.
    pub fn answer(
        &self,
        user: &str,
        opaque: &str,
        answer: impl FnOnce(&str) -> String,
    ) -> Option<String> {
        self.with(|m| {
            let thread = m
                .get_mut(user)?
                .iter_mut()
                .find(|t| t.opaque == opaque)
                .filter(|t| t.awaits_reply())?;
            let question = &thread.messages.last()?.text;
            let text = answer(question);
            thread.messages.push(Message {
                author: Author::Assistant,
                text: text.clone(),
            });
            Some(text)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversations_belong_to_one_user() {
        let threads = Threads::new(7);
        let a = threads.create("alice");
        assert_eq!(a, "t7");
        assert_eq!(threads.create("bob"), "t8");
        assert!(threads.get("alice", "t7").is_some());
        assert!(
            threads.get("bob", "t7").is_none(),
            "never under another name"
        );
        assert!(!threads.push("bob", "t7", Author::User, "hi".into()));
        assert_eq!(threads.answer("alice", "t7", |_| "x".into()), None);
        assert!(threads.push("alice", "t7", Author::User, "hello".into()));
        assert!(threads.get("alice", "t7").unwrap().awaits_reply());
        assert_eq!(threads.answer("bob", "t7", |_| "x".into()), None);
        let reply = threads.answer("alice", "t7", |q| format!("re: {q}"));
        assert_eq!(reply.as_deref(), Some("re: hello"));
        assert_eq!(threads.answer("alice", "t7", |_| "again".into()), None);
        let t = threads.get("alice", "t7").unwrap();
        assert_eq!(t.title(), "hello");
        assert_eq!(t.messages.len(), 2);
        threads.create("alice");
        let order: Vec<_> = threads
            .list("alice")
            .into_iter()
            .map(|t| t.opaque)
            .collect();
        assert_eq!(order, ["t9", "t7"]);
        assert!(threads.list("carol").is_empty());
        let long = Thread {
            opaque: "x".into(),
            messages: vec![Message {
                author: Author::User,
                text: "é".repeat(80),
            }],
        };
        assert_eq!(long.title().chars().count(), 60);
    }
}
