"""Words of the synthetic vocabulary: sign i of a synth store means word i of the chosen language's list."""

ZH = (
    "我", "你", "他", "她", "我们", "你们", "他们", "今天", "明天", "昨天", "早上", "晚上", "现在", "以后", "以前",
    "家", "学校", "医院", "银行", "商店", "饭店", "公园", "车站", "机场", "公司", "图书馆", "超市", "厕所", "房间", "城市",
    "吃", "喝", "去", "来", "看", "听", "说", "写", "读", "买", "卖", "坐", "走", "跑", "睡觉",
    "工作", "学习", "休息", "帮助", "喜欢", "知道", "认识", "需要", "想", "等", "找", "开", "关", "住", "打电话",
    "饭", "水", "茶", "咖啡", "苹果", "香蕉", "面条", "米饭", "鸡蛋", "牛奶", "菜", "肉", "鱼", "水果", "面包",
    "朋友", "老师", "学生", "医生", "爸爸", "妈妈", "哥哥", "姐姐", "弟弟", "妹妹", "孩子", "警察", "司机", "同事", "邻居",
    "好", "坏", "大", "小", "多", "少", "高兴", "难过", "累", "忙", "冷", "热", "贵", "便宜", "漂亮",
    "一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "百", "几", "每天", "星期", "月",
    "钱", "书", "手机", "电脑", "衣服", "鞋", "车", "票", "药", "雨", "天气", "名字", "问题", "时间", "事情",
    "谢谢", "对不起", "没关系", "再见", "请", "不", "没有", "是", "会", "能", "可以", "应该", "什么", "哪里", "为什么",
)  # fmt: skip
EN = (
    "i", "you", "he", "she", "we", "they", "today", "tomorrow", "yesterday", "morning", "evening", "now", "later",
    "before", "home", "school", "hospital", "bank", "shop", "restaurant", "park", "station", "airport", "company",
    "library", "market", "toilet", "room", "city", "eat", "drink", "go", "come", "see", "hear", "say", "write",
    "read", "buy", "sell", "sit", "walk", "run", "sleep", "work", "study", "rest", "help", "like", "know", "meet",
    "need", "want", "wait", "find", "open", "close", "live", "call", "rice", "water", "tea", "coffee", "apple",
    "banana", "noodles", "egg", "milk", "vegetables", "meat", "fish", "fruit", "bread", "friend", "teacher",
    "student", "doctor", "father", "mother", "brother", "sister", "child", "police", "driver", "colleague",
    "neighbour", "good", "bad", "big", "small", "many", "few", "happy", "sad", "tired", "busy", "cold", "hot",
    "expensive", "cheap", "beautiful", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    "ten", "hundred", "how-many", "every-day", "week", "month", "money", "book", "phone", "computer", "clothes",
    "shoes", "car", "ticket", "medicine", "rain", "weather", "name", "question", "time", "thing", "thanks",
    "sorry", "never-mind", "goodbye", "please", "not", "none", "yes", "can", "able", "may", "should", "what",
    "where", "why", "family", "dog", "summer", "winter",
)  # fmt: skip
LANGUAGES = {"zh": ZH, "en": EN}
